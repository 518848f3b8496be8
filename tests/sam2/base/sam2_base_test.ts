import { type StateDict, toFloat32, typedView } from "../../../src/checkpoint/mod.ts";
import { initGpu } from "../../../src/gpu/mod.ts";
import { SAM2Base } from "../../../src/sam2/mod.ts";
import { type Tensor, tensor } from "../../../src/tensor/mod.ts";
import { assertEquals } from "../../assert.ts";
import {
  compareWithFixture,
  MINI,
  miniConfig,
  miniFixture,
  miniWeights,
  withPrefix,
} from "../_mini.ts";

function fx(ref: StateDict, key: string): Tensor {
  const t = ref.get(key);
  if (!t) throw new Error(`fixture tensor ${key} missing`);
  return tensor(toFloat32(t), t.shape);
}

let model: Promise<SAM2Base> | undefined;
function miniModel(): Promise<SAM2Base> {
  return model ??= (async () => {
    await initGpu();
    const m = new SAM2Base((await miniConfig()).model);
    m.loadStateDict(
      withPrefix(new Map([...await miniWeights()].map(([k, v]) => [`m.${k}`, v])), "m"),
    );
    m.eval();
    return m;
  })();
}

Deno.test("SAM2Base(mini) state_dict keys, shapes and order equal the reference's key list", async () => {
  const m = await miniModel();
  const ref = JSON.parse(await Deno.readTextFile(new URL("keys/mini.json", MINI))) as {
    keys: [string, number[], number][];
    total_parameters: number;
  };
  const ours = [...m.stateDict()].map(([k, t]) => [k, [...t.shape]]);
  assertEquals(ours, ref.keys.map(([k, s]) => [k, s]));
  assertEquals(m.numParameters(), ref.total_parameters);
});

Deno.test("SAM2Base.forwardImage() projects levels 0 and 1 with conv_s0/conv_s1 as the reference", async () => {
  const m = await miniModel();
  const ref = await miniFixture("image_encoder.safetensors");
  const out = m.forwardImage(fx(ref, "input.image"));
  const report: string[] = [];
  for (let i = 0; i < 3; i++) {
    const k = `backbone_fpn.${i}`;
    report.push(
      `${k}: ${(await compareWithFixture(k, out.backbone_fpn[i], ref, k)).toExponential(2)}`,
    );
  }
  console.log(report.join("\n"));
});

Deno.test("SAM2Base.forwardSamHeads() matches _forward_sam_heads: gating, best-IoU pick, object pointer", async () => {
  const m = await miniModel();
  const ref = await miniFixture("sam_heads.safetensors");
  const report: string[] = [];
  for (
    const [call, multimask, mask] of [["points", true, false], ["box", false, false], [
      "point_and_mask",
      false,
      true,
    ]] as const
  ) {
    const labels = typedView(ref.get(`${call}.in.point_labels`)!) as Int32Array;
    const out = m.forwardSamHeads(fx(ref, "pix_feat_with_mem"), {
      pointInputs: { coords: fx(ref, `${call}.in.point_coords`), labels: Int32Array.from(labels) },
      maskInputs: mask ? fx(ref, `${call}.in.mask_inputs`) : null,
      highResFeatures: [fx(ref, "high_res_features.0"), fx(ref, "high_res_features.1")],
      multimaskOutput: multimask,
    });
    const pairs: [string, Tensor][] = [
      ["low_res_multimasks", out.lowResMultimasks],
      ["high_res_multimasks", out.highResMultimasks],
      ["ious", out.ious],
      ["low_res_masks", out.lowResMasks],
      ["high_res_masks", out.highResMasks],
      ["obj_ptr", out.objPtr],
      ["object_score_logits", out.objectScoreLogits],
    ];
    for (const [k, t] of pairs) {
      const key = `${call}.${k}`;
      report.push(`${key}: ${(await compareWithFixture(key, t, ref, key)).toExponential(2)}`);
    }
  }
  console.log(report.join("\n"));
});
