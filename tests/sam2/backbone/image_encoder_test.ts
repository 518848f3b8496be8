import { imageEncoderParity } from "../../../src/cli/commands/parity_run.ts";
import { planHiera } from "../../../src/sam2/backbone/mod.ts";
import { loadModelConfig } from "../../../src/sam2/config/mod.ts";
import { assertEquals } from "../../assert.ts";
import { assertParityRows, MINI, miniBaseModel } from "../_mini.ts";

Deno.test("ImageEncoder and SAM2Base.forwardImage() match the PyTorch reference on sam2-mini: every trunk block, stage, neck level, PE and conv_s0/conv_s1 level", async () => {
  // |ours - ref| <= 1e-4 + 1e-4 * max|ref| for every tensor (the comparison of `deno task parity`).
  const rows = await imageEncoderParity(await miniBaseModel(), MINI.pathname, 1e-4);
  const count = (prefix: string) => rows.filter((r) => r.name.startsWith(prefix)).length;
  assertEquals(count("trunk.block"), 8);
  assertEquals(count("trunk.stage"), 4);
  assertEquals(count("neck.backbone_fpn."), 4);
  assertEquals(count("backbone_fpn."), 3, "scalp 1 keeps 3 levels");
  assertEquals(count("vision_pos_enc."), 3);
  assertEquals(rows.length, 1 + 1 + 8 + 4 + 4 + 3 + 3 + 1);
  assertParityRows("image_encoder", rows);
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
