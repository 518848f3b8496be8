/**
 * Activation checkpointing of the Hiera trunk blocks (`Hiera.actCheckpoint`): the same gradients
 * as the plain forward, with a lower (or equal) pool high-water mark over forward + backward.
 */
import { gpu, initGpu } from "../../../src/gpu/mod.ts";
import { ImageEncoder } from "../../../src/sam2/backbone/mod.ts";
import type { ImageEncoderConfig } from "../../../src/sam2/config/mod.ts";
import { manualSeed, randn, type Tensor, tidy } from "../../../src/tensor/mod.ts";
import { assert, assertEquals } from "../../assert.ts";
import { miniConfig, miniWeights, relMaxError, withPrefix } from "../_mini.ts";

interface StepResult {
  grads: Map<string, Float32Array>;
  /** Peak pool bytes above the live bytes before the forward. */
  stepPeak: number;
  /** Peak pool bytes during backward, above the live bytes before the forward. */
  backwardPeak: number;
}

/** One forward + backward of a fixed weighted sum of every FPN level. */
async function step(enc: ImageEncoder, image: Tensor, weights: Tensor[]): Promise<StepResult> {
  const pool = gpu().pool;
  enc.zeroGrad();
  await gpu().sync();
  const base = pool.stats().liveBytes;
  pool.resetPeak();
  const loss = tidy(() => {
    const out = enc.forward(image);
    let l = out.backbone_fpn[0].mul(weights[0]).sum();
    for (let i = 1; i < out.backbone_fpn.length; i++) {
      l = l.add(out.backbone_fpn[i].mul(weights[i]).sum());
    }
    return l;
  });
  await gpu().sync();
  const stepPeakForward = pool.stats().peakBytes;
  pool.resetPeak();
  loss.backward();
  await gpu().sync();
  const peakBackward = pool.stats().peakBytes;
  loss.dispose();
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of enc.namedParameters()) {
    if (p.grad) grads.set(name, Float32Array.from(await p.grad.toArray()));
  }
  return {
    grads,
    stepPeak: Math.max(stepPeakForward, peakBackward) - base,
    backwardPeak: peakBackward - base,
  };
}

async function compare(cfg: ImageEncoderConfig, load: boolean, dropSeed?: number) {
  await initGpu();
  const enc = new ImageEncoder(cfg);
  if (load) enc.loadStateDict(withPrefix(await miniWeights(), "image_encoder"));
  enc.train();
  manualSeed(7);
  const image = randn([1, 3, 128, 128]);
  const probe = enc.forward(randn([1, 3, 128, 128]));
  const weights = probe.backbone_fpn.map((f) => randn(f.shape));
  if (dropSeed !== undefined) manualSeed(dropSeed);
  const plain = await step(enc, image, weights);
  enc.trunk.actCheckpoint = true;
  if (dropSeed !== undefined) manualSeed(dropSeed);
  const ckpt = await step(enc, image, weights);
  enc.trunk.actCheckpoint = false;
  assertEquals([...ckpt.grads.keys()], [...plain.grads.keys()]);
  assertEquals(plain.grads.size, [...enc.namedParameters()].length, "every parameter has a grad");
  let worst = 0;
  for (const [name, g] of plain.grads) {
    const e = relMaxError(ckpt.grads.get(name)!, g);
    assert(e <= 1e-6, `${name}: relative error ${e}`);
    worst = Math.max(worst, e);
  }
  console.log(
    `${plain.grads.size} grads, worst rel ${worst.toExponential(2)}; step peak ` +
      `${plain.stepPeak} -> ${ckpt.stepPeak} B, backward peak ${plain.backwardPeak} -> ` +
      `${ckpt.backwardPeak} B`,
  );
  assert(ckpt.stepPeak <= plain.stepPeak, `step peak ${ckpt.stepPeak} > ${plain.stepPeak}`);
  assert(
    ckpt.backwardPeak <= plain.backwardPeak,
    `backward peak ${ckpt.backwardPeak} > ${plain.backwardPeak}`,
  );
  return { plain, ckpt };
}

Deno.test("Hiera.actCheckpoint gives the same image-encoder gradients on sam2-mini with a lower peak", async () => {
  const cfg = (await miniConfig()).model.image_encoder;
  const { plain, ckpt } = await compare(cfg, true);
  assert(ckpt.stepPeak < plain.stepPeak, "checkpointing saved no memory");
});

Deno.test("Hiera.actCheckpoint recomputes blocks with the same drop-path masks (drop_path_rate 0.5)", async () => {
  const base = (await miniConfig()).model.image_encoder;
  const cfg = { ...base, trunk: { ...base.trunk, drop_path_rate: 0.5 } };
  await compare(cfg, false, 123);
});
