/**
 * `freeze_image_encoder` (training/model/sam2.py sets requires_grad False on the image encoder):
 * SAM2Train allocates no gradient for any image-encoder parameter, and every other parameter gets
 * the same gradient as without freezing.
 */
import { type StateDict, toFloat32 } from "../../../src/checkpoint/mod.ts";
import { initGpu } from "../../../src/gpu/mod.ts";
import type { StateValue } from "../../../src/nn/mod.ts";
import { loadModelConfig } from "../../../src/sam2/config/mod.ts";
import { type GpuVideoBatch, SAM2Train, SeededTrainRandom } from "../../../src/sam2/mod.ts";
import { tensor } from "../../../src/tensor/mod.ts";
import { MultiStepMultiMasksAndIous } from "../../../src/train/mod.ts";
import { assert, assertEquals } from "../../assert.ts";
import { miniFixture, miniWeights, relMaxError } from "../_mini.ts";

const CONFIG = new URL("../../../configs/mini.yaml", import.meta.url).pathname;

function fixtureTensor(sd: StateDict, name: string) {
  const t = sd.get(name);
  if (!t) throw new Error(`train_step.safetensors: no tensor ${name}`);
  return t;
}

/** The clip of the fixture's train_step run (4 frames, its objects). */
async function trainStepBatch(): Promise<GpuVideoBatch> {
  const sd = await miniFixture("train_step.safetensors");
  const img = fixtureTensor(sd, "input.img_batch"), masks = fixtureTensor(sd, "input.masks");
  return {
    imgBatch: tensor(toFloat32(img), img.shape),
    masks: Uint8Array.from(toFloat32(masks)),
    objToFrameIdx: Int32Array.from(toFloat32(fixtureTensor(sd, "input.obj_to_frame_idx"))),
    numObjects: masks.shape[1],
  };
}

/** One seeded training step; returns every parameter's gradient (null when none). */
async function gradsOf(freeze: boolean): Promise<Map<string, Float32Array | null>> {
  const cfg = await loadModelConfig(CONFIG);
  const extra = { ...cfg.trainerModelExtra!, freeze_image_encoder: freeze };
  await initGpu();
  const model = new SAM2Train(cfg.model, extra);
  const values = new Map<string, StateValue>();
  for (const [k, t] of await miniWeights()) values.set(k, { shape: t.shape, data: toFloat32(t) });
  model.loadStateDict(values);
  model.train();
  const batch = await trainStepBatch();
  const out = await model.forward(batch, new SeededTrainRandom(3));
  const [, , , h, w] = batch.imgBatch.shape, o = batch.numObjects;
  const targets = out.frames.map((_: unknown, f: number) => ({
    data: batch.masks.subarray(f * o * h * w, (f + 1) * o * h * w),
    numObjects: o,
    height: h,
    width: w,
  }));
  const loss = new MultiStepMultiMasksAndIous(cfg.loss!).forward(out.frames, targets).core_loss;
  assert(loss.requiresGrad, "the loss has no gradient");
  loss.backward();
  const grads = new Map<string, Float32Array | null>();
  for (const [name, p] of model.namedParameters()) {
    grads.set(name, p.grad ? Float32Array.from(await p.grad.toArray()) : null);
  }
  return grads;
}

Deno.test("SAM2Train with freeze_image_encoder gives the image encoder no gradients and the rest the same ones", async () => {
  const frozen = await gradsOf(true);
  const full = await gradsOf(false);
  assertEquals([...frozen.keys()], [...full.keys()]);
  const encoder = [...frozen.keys()].filter((k) => k.startsWith("image_encoder."));
  assert(encoder.length > 0, "no image_encoder parameters");
  for (const k of encoder) {
    assertEquals(frozen.get(k), null, `${k} has a gradient although frozen`);
    assert(full.get(k) !== null, `${k} has no gradient without freezing`);
  }
  let compared = 0;
  for (const [k, g] of frozen) {
    if (k.startsWith("image_encoder.")) continue;
    const ref = full.get(k);
    assertEquals(g === null, ref === null, `${k}: gradient presence differs`);
    if (!g || !ref) continue;
    const e = relMaxError(g, ref);
    assert(e <= 1e-6, `${k}: relative error ${e}`);
    compared++;
  }
  assert(compared > 0, "no other parameter got a gradient");
  console.log(`${encoder.length} frozen encoder params, ${compared} other grads equal`);
});
