import { initGpu } from "../../../src/gpu/mod.ts";
import { ImageEncoder, planHiera } from "../../../src/sam2/backbone/mod.ts";
import { loadModelConfig } from "../../../src/sam2/config/mod.ts";
import { type Tensor, tensor } from "../../../src/tensor/mod.ts";
import { toFloat32 } from "../../../src/checkpoint/mod.ts";
import { assertEquals } from "../../assert.ts";
import { compareWithFixture, miniConfig, miniFixture, miniWeights, withPrefix } from "../_mini.ts";

Deno.test("ImageEncoder matches the PyTorch reference on sam2-mini: every trunk block, stage, neck level and PE", async () => {
  await initGpu();
  const cfg = await miniConfig();
  const enc = new ImageEncoder(cfg.model.image_encoder);
  enc.eval();
  enc.loadStateDict(withPrefix(await miniWeights(), "image_encoder"));
  const ref = await miniFixture("image_encoder.safetensors");
  const input = ref.get("input.image")!;

  const taps: [string, Tensor][] = [];
  const stages: Tensor[] = [];
  const trunkForward = enc.trunk.forward.bind(enc.trunk);
  enc.trunk.forward = (x, tap) => {
    const outs = trunkForward(x, tap);
    stages.push(...outs);
    return outs;
  };
  const out = enc.forward(tensor(toFloat32(input), input.shape), {
    patchEmbed: (t) => taps.push(["trunk.patch_embed", t]),
    posEmbed: (t) => taps.push(["trunk.pos_embed", t]),
    block: (i, t) => taps.push([`trunk.block${i}`, t]),
    neck: (fs) => fs.forEach((f, i) => taps.push([`neck.backbone_fpn.${i}`, f])),
  });
  stages.forEach((s, i) => taps.push([`trunk.stage${i}`, s]));
  out.vision_pos_enc.forEach((p, i) => taps.push([`vision_pos_enc.${i}`, p]));
  taps.push(["vision_features", out.vision_features]);
  assertEquals(out.backbone_fpn.length, 3, "scalp 1 keeps 3 levels");
  assertEquals(taps.length, 1 + 1 + 8 + 4 + 4 + 3 + 1);

  const report: string[] = [];
  for (const [name, t] of taps) {
    report.push(`${name}: ${(await compareWithFixture(name, t, ref, name)).toExponential(2)}`);
  }
  console.log(report.join("\n"));
});

Deno.test("planHiera() derives the released tiny trunk: q-pool blocks, widths, window lag, global blocks", async () => {
  const t = await loadModelConfig(
    new URL("../../../configs/sam2.1/sam2.1_hiera_t.yaml", import.meta.url),
  );
  const plan = planHiera(t.model.image_encoder.trunk);
  assertEquals(plan.blocks.length, 12);
  assertEquals(plan.stageEnds, [0, 2, 9, 11]);
  assertEquals(plan.channelList, [768, 384, 192, 96]);
  assertEquals(plan.blocks.map((b) => b.qStride !== null), [
    false,
    true,
    false,
    true,
    false,
    false,
    false,
    false,
    false,
    false,
    true,
    false,
  ]);
  // The first block of a stage still uses the previous stage's window (the reference reads
  // window_spec before advancing the stage); global_att_blocks [5, 7, 9] are 0.
  assertEquals(plan.blocks.map((b) => b.windowSize), [8, 8, 4, 4, 14, 0, 14, 0, 14, 0, 14, 7]);
  assertEquals(plan.blocks.map((b) => b.numHeads), [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 8, 8]);
});
