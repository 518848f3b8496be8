/**
 * `deno task bench model [--json] [--sizes t,s,b+,l] [--res 256,512,1024] [--quick]
 * [--budget S] [--train mini,t] [--act-ckpt]`: whole-model figures on this machine.
 *
 * - Image encoder (Hiera trunk + FPN neck) forward, eval mode, batch 1, random weights: time
 *   after a warm-up (completion forced by reading the output back) and the pool's peak bytes
 *   above the weights. A case whose estimate (the size's 256 time × pixel ratio) is over the
 *   per-case budget is skipped and printed as "skipped (est. N s)"; a tensor above the adapter's
 *   max storage binding (128 MiB on lavapipe) is reported as "exceeds binding limit".
 * - SAM2Train forward + MultiStepMultiMasksAndIous + backward at 256: 8 frames, 2 objects, a
 *   seeded TrainRandom and mini.yaml's training options, for `mini` (the baseline) and tiny.
 *
 * Ratios: encoder time relative to tiny at 256 of the same run, ms per megapixel; train step
 * time relative to mini.
 */
import { gpu, initGpu } from "../src/gpu/mod.ts";
import { type HieraPlan, ImageEncoder } from "../src/sam2/backbone/mod.ts";
import { loadModelConfig, type Sam2ModelConfig } from "../src/sam2/config/mod.ts";
import { type GpuVideoBatch, SAM2Train, SeededTrainRandom } from "../src/sam2/mod.ts";
import { manualSeed, noGrad, randn, type Tensor, tidy } from "../src/tensor/mod.ts";
import { MultiStepMultiMasksAndIous } from "../src/train/mod.ts";

const args = Deno.args;
const json = args.includes("--json");
const quick = args.includes("--quick");
function opt(name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const sizes = opt("--sizes", quick ? "t" : "t,s,b+,l").split(",").filter(Boolean);
const resList = opt("--res", quick ? "256" : "256,512,1024").split(",").map(Number);
const budgetS = Number(opt("--budget", quick ? "20" : "60"));
/** Also time each train model with `Hiera.actCheckpoint` on (name suffixed "+ckpt"). */
const actCkpt = args.includes("--act-ckpt");
const trainModels = opt("--train", quick ? "mini" : "mini,t").split(",").filter(Boolean);
for (const r of resList) {
  if (!Number.isInteger(r) || r <= 0 || r % 32 !== 0) {
    throw new RangeError(`--res: ${r} is not a positive multiple of 32`);
  }
}
if (!(budgetS > 0)) throw new RangeError(`--budget: ${opt("--budget", "")} is not a number > 0`);

const CONFIGS: Record<string, URL> = {
  mini: new URL("../configs/mini.yaml", import.meta.url),
  t: new URL("../configs/sam2.1/sam2.1_hiera_t.yaml", import.meta.url),
  s: new URL("../configs/sam2.1/sam2.1_hiera_s.yaml", import.meta.url),
  "b+": new URL("../configs/sam2.1/sam2.1_hiera_b+.yaml", import.meta.url),
  l: new URL("../configs/sam2.1/sam2.1_hiera_l.yaml", import.meta.url),
};
for (const s of [...sizes, ...trainModels]) {
  if (!CONFIGS[s]) throw new RangeError(`unknown size "${s}" (one of ${Object.keys(CONFIGS)})`);
}

const rt = await initGpu();
const maxBinding = rt.device.limits.maxStorageBufferBindingSize;
const log = (s: string) => {
  if (!json) console.log(s);
};
const MiB = 2 ** 20;

/** Why a case produced no time. */
type Status = "ok" | "skipped" | "exceeds binding limit" | "error";

interface EncoderCase {
  size: string;
  res: number;
  status: Status;
  ms?: number;
  estMs?: number;
  msPerMpix?: number;
  relToT256?: number;
  warm: boolean;
  paramsMiB?: number;
  peakMiB?: number;
  note?: string;
}

function isBindingError(e: unknown): boolean {
  return /maxStorageBufferBinding|binding/i.test(String((e as Error)?.message ?? e));
}

/**
 * Bytes of the largest activation of the trunk at `res` (qkv over the padded windows, the MLP's
 * hidden layer): attention itself is fused, so these bound the largest single binding.
 */
function largestActivationBytes(plan: HieraPlan, res: number): number {
  let g = res / 4, most = 0;
  for (const b of plan.blocks) {
    const pad = b.windowSize > 0 ? Math.ceil(g / b.windowSize) * b.windowSize : g;
    const out = b.qStride ? Math.ceil(g / b.qStride[0]) : g;
    most = Math.max(most, pad * pad * 3 * b.dimOut * 4, out * out * 4 * b.dimOut * 4);
    g = out;
  }
  return most;
}

/** Frees the outputs of a forward. */
function disposeAll(ts: Tensor[]) {
  for (const t of ts) t.dispose();
}

async function encoderForward(enc: ImageEncoder, image: Tensor): Promise<number> {
  const t0 = performance.now();
  const outs = noGrad(() =>
    tidy(() => {
      const o = enc.forward(image);
      return [...o.backbone_fpn, ...o.vision_pos_enc];
    })
  );
  await outs[0].toArray();
  await gpu().sync();
  const ms = performance.now() - t0;
  disposeAll(outs);
  return ms;
}

const encoderCases: EncoderCase[] = [];
for (const size of sizes) {
  const cfg = await loadModelConfig(CONFIGS[size]);
  const enc = new ImageEncoder(cfg.model.image_encoder);
  enc.eval();
  await gpu().sync();
  const paramBytes = gpu().pool.stats().liveBytes;
  let ms256: number | undefined;
  for (const res of [...resList].sort((a, b) => a - b)) {
    const c: EncoderCase = { size, res, status: "ok", warm: false };
    encoderCases.push(c);
    c.paramsMiB = paramBytes / MiB;
    if (ms256 !== undefined) c.estMs = ms256 * (res / 256) ** 2;
    const largest = largestActivationBytes(enc.trunk.plan, res);
    if (largest > maxBinding) {
      c.status = "exceeds binding limit";
      c.note = `a ${(largest / MiB).toFixed(0)} MiB activation is over the ${
        maxBinding / MiB
      } MiB max storage binding`;
      log(`${size} @${res}: exceeds binding limit (${c.note})`);
      continue;
    }
    if (c.estMs !== undefined && c.estMs > budgetS * 1000) {
      c.status = "skipped";
      log(`${size} @${res}: skipped (est. ${(c.estMs / 1000).toFixed(0)} s)`);
      continue;
    }
    manualSeed(1);
    const image = randn([1, 3, res, res]);
    try {
      // The warm-up compiles pipelines; it is left out where it alone would blow the budget.
      if (c.estMs === undefined || c.estMs * 2 <= budgetS * 1000) {
        await encoderForward(enc, image);
        c.warm = true;
      }
      await gpu().sync();
      const base = gpu().pool.stats().liveBytes;
      gpu().pool.resetPeak();
      c.ms = await encoderForward(enc, image);
      c.peakMiB = (gpu().pool.stats().peakBytes - base) / MiB;
      c.msPerMpix = c.ms / (res * res / 1e6);
      if (res === 256) ms256 = c.ms;
      log(
        `${size} @${res}: ${(c.ms / 1000).toFixed(2)} s${c.warm ? "" : " (no warm-up)"}, ` +
          `peak ${c.peakMiB.toFixed(0)} MiB above ${c.paramsMiB.toFixed(0)} MiB of weights`,
      );
    } catch (e) {
      c.status = isBindingError(e) ? "exceeds binding limit" : "error";
      c.note = String((e as Error)?.message ?? e).split("\n")[0].slice(0, 200);
      log(`${size} @${res}: ${c.status}: ${c.note}`);
      await gpu().sync().catch(() => {});
    } finally {
      image.dispose();
    }
  }
  enc.dispose();
  await gpu().sync();
}
const t256 = encoderCases.find((c) => c.size === "t" && c.res === 256 && c.ms);
for (const c of encoderCases) if (c.ms && t256?.ms) c.relToT256 = c.ms / t256.ms;

// ---- SAM2Train forward + backward ----

interface TrainCase {
  model: string;
  res: number;
  frames: number;
  objects: number;
  status: Status;
  ms?: number;
  estMs?: number;
  forwardMs?: number;
  backwardMs?: number;
  peakMiB?: number;
  paramsMiB?: number;
  relToMini?: number;
  coreLoss?: number;
  note?: string;
}

/** The model config at another input resolution (RoPE grids follow the stride-16 features). */
function atResolution(model: Sam2ModelConfig, res: number): Sam2ModelConfig {
  const m = structuredClone(model);
  m.image_size = res;
  const layer = m.memory_attention.layer as unknown as Record<string, { feat_sizes?: number[] }>;
  for (const k of ["self_attention", "cross_attention"]) {
    if (layer[k]?.feat_sizes) layer[k].feat_sizes = [res / 16, res / 16];
  }
  return m;
}

/** 8 random frames and 2 rectangles per frame that drift, as one video. */
function syntheticBatch(frames: number, objects: number, res: number): GpuVideoBatch {
  manualSeed(2);
  const imgBatch = randn([frames, 1, 3, res, res]);
  const masks = new Uint8Array(frames * objects * res * res);
  const objToFrameIdx = new Int32Array(frames * objects * 2);
  for (let t = 0; t < frames; t++) {
    for (let o = 0; o < objects; o++) {
      const x0 = Math.floor(res * (0.1 + 0.4 * o) + t * 3), y0 = Math.floor(res * 0.2 + t * 2);
      const w = Math.floor(res * 0.3), h = Math.floor(res * 0.25);
      const base = (t * objects + o) * res * res;
      for (let y = y0; y < Math.min(res, y0 + h); y++) {
        masks.fill(1, base + y * res + x0, base + y * res + Math.min(res, x0 + w));
      }
      objToFrameIdx[(t * objects + o) * 2] = t;
    }
  }
  return { imgBatch, masks, objToFrameIdx, numObjects: objects };
}

const mini = await loadModelConfig(CONFIGS.mini);
const FRAMES = 8, OBJECTS = 2, TRAIN_RES = 256;
const trainCases: TrainCase[] = [];

async function trainStep(model: SAM2Train, batch: GpuVideoBatch, loss: MultiStepMultiMasksAndIous) {
  model.zeroGrad();
  const t0 = performance.now();
  const out = await model.forward(batch, new SeededTrainRandom(5));
  const res = batch.imgBatch.shape[3];
  const n = batch.numObjects * res * res;
  const targets = out.frames.map((_: unknown, f: number) => ({
    data: batch.masks.subarray(f * n, (f + 1) * n),
    numObjects: batch.numObjects,
    height: res,
    width: res,
  }));
  const l = loss.forward(out.frames, targets).core_loss;
  const coreLoss = await l.item();
  const t1 = performance.now();
  if (l.requiresGrad) l.backward();
  await gpu().sync();
  const t2 = performance.now();
  l.dispose();
  return { forwardMs: t1 - t0, backwardMs: t2 - t1, coreLoss };
}

const trainRuns = trainModels.flatMap((m) => actCkpt ? [m, `${m}+ckpt`] : [m]);
for (const run of trainRuns) {
  const name = run.replace(/\+ckpt$/, ""), ckpt = run !== name;
  const c: TrainCase = {
    model: run,
    res: TRAIN_RES,
    frames: FRAMES,
    objects: OBJECTS,
    status: "ok",
  };
  trainCases.push(c);
  const miniCase = trainCases.find((x) => x.model.startsWith("mini") && x.ms);
  const enc = encoderCases.find((x) => x.size === name && x.res === TRAIN_RES && x.ms);
  if (name !== "mini" && miniCase?.ms && enc?.ms) {
    // Forward + backward of the encoder ~ 3 forwards per frame, plus the rest as in mini.
    c.estMs = miniCase.ms + 3 * FRAMES * enc.ms;
    if (c.estMs > budgetS * 1000) {
      c.status = "skipped";
      log(`train ${name} @${TRAIN_RES}: skipped (est. ${(c.estMs / 1000).toFixed(0)} s)`);
      continue;
    }
  }
  const cfg = await loadModelConfig(CONFIGS[name]);
  manualSeed(0); // the same initial weights for every variant of a model
  const model = new SAM2Train(atResolution(cfg.model, TRAIN_RES), mini.trainerModelExtra!);
  model.image_encoder.trunk.actCheckpoint = ckpt;
  model.train();
  const loss = new MultiStepMultiMasksAndIous(mini.loss!);
  const batch = syntheticBatch(FRAMES, OBJECTS, TRAIN_RES);
  try {
    await gpu().sync();
    const base = gpu().pool.stats().liveBytes;
    c.paramsMiB = base / MiB;
    await trainStep(model, batch, loss); // warm-up
    model.zeroGrad();
    await gpu().sync();
    const base2 = gpu().pool.stats().liveBytes;
    gpu().pool.resetPeak();
    const r = await trainStep(model, batch, loss);
    c.forwardMs = r.forwardMs;
    c.backwardMs = r.backwardMs;
    c.ms = r.forwardMs + r.backwardMs;
    c.coreLoss = r.coreLoss;
    c.peakMiB = (gpu().pool.stats().peakBytes - base2) / MiB;
    log(
      `train ${name} @${TRAIN_RES}: ${(c.ms / 1000).toFixed(2)} s ` +
        `(forward ${(r.forwardMs / 1000).toFixed(2)} s, backward ${
          (r.backwardMs / 1000).toFixed(2)
        } s), peak ${c.peakMiB.toFixed(0)} MiB above weights`,
    );
  } catch (e) {
    c.status = isBindingError(e) ? "exceeds binding limit" : "error";
    c.note = String((e as Error)?.message ?? e).split("\n")[0].slice(0, 200);
    log(`train ${name}: ${c.status}: ${c.note}`);
  } finally {
    batch.imgBatch.dispose();
    model.dispose();
    await gpu().sync().catch(() => {});
  }
}
const miniTrain = trainCases.find((x) => x.model === "mini" && x.ms);
for (const c of trainCases) if (c.ms && miniTrain?.ms) c.relToMini = c.ms / miniTrain.ms;

const device = {
  adapter: rt.adapterName,
  cpuAdapter: rt.isCpuAdapter,
  maxStorageBindingMiB: maxBinding / MiB,
  cores: navigator.hardwareConcurrency,
  loadavg: Deno.loadavg(),
};

if (json) {
  console.log(JSON.stringify({
    benchmark: "model",
    device,
    budgetS,
    encoder: encoderCases,
    train: trainCases,
  }));
} else {
  const f = (v: number | undefined, d = 2) => v === undefined ? "-" : v.toFixed(d);
  console.log(
    `\nDevice: ${device.adapter} (${device.cores} cores, load ${
      device.loadavg.map((x) => x.toFixed(2)).join(" ")
    }), max storage binding ${device.maxStorageBindingMiB} MiB, per-case budget ${budgetS} s`,
  );
  console.log("\nImage encoder forward (batch 1, eval):");
  console.log("size  res    time s   ms/Mpix   vs t@256  peak MiB  weights MiB  status");
  for (const c of encoderCases) {
    const status = c.status === "skipped"
      ? `skipped (est. ${f((c.estMs ?? 0) / 1000, 0)} s)`
      : c.status === "ok"
      ? (c.warm ? "ok" : "ok, no warm-up")
      : c.status;
    console.log(
      `${c.size.padEnd(5)} ${String(c.res).padEnd(6)} ${f(c.ms && c.ms / 1000).padStart(7)}  ${
        f(c.msPerMpix, 0).padStart(8)
      }  ${f(c.relToT256).padStart(8)}  ${f(c.peakMiB, 0).padStart(8)}  ${
        f(c.paramsMiB, 0).padStart(11)
      }  ${status}`,
    );
  }
  console.log(`\nSAM2Train forward + backward (${FRAMES} frames, ${OBJECTS} objects):`);
  console.log("model res    time s  fwd s   bwd s   vs mini  peak MiB  status");
  for (const c of trainCases) {
    const status = c.status === "skipped"
      ? `skipped (est. ${f((c.estMs ?? 0) / 1000, 0)} s)`
      : c.status;
    console.log(
      `${c.model.padEnd(5)} ${String(c.res).padEnd(6)} ${f(c.ms && c.ms / 1000).padStart(6)}  ${
        f(c.forwardMs && c.forwardMs / 1000).padStart(6)
      }  ${f(c.backwardMs && c.backwardMs / 1000).padStart(6)}  ${f(c.relToMini).padStart(7)}  ${
        f(c.peakMiB, 0).padStart(8)
      }  ${status}`,
    );
  }
}
