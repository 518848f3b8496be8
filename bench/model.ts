/**
 * `deno task bench model [--json] [--sizes t,s,b+,l] [--res 256,512,1024] [--quick]
 * [--budget S] [--no-warmup] [--train mini,t] [--train-res 256,1024] [--frames 8] [--act-ckpt]
 * [--check [--check-limit MiB]] [--stack]`: whole-model figures on this machine.
 *
 * - Image encoder (Hiera trunk + FPN neck) forward, eval mode, batch 1, random weights: time
 *   after a warm-up (completion forced by reading the outputs back), process CPU time, the
 *   pool's peak bytes above the weights, and whether every output is finite. A case whose
 *   estimate (the size's 256 time × pixel ratio) is over the per-case budget is skipped and
 *   printed as "skipped (est. N s)". Tensors above the adapter's max storage binding (128 MiB on
 *   lavapipe) no longer skip a case: the runtime splits those launches (`largestMiB` says how
 *   big the largest trunk activation is). A case that throws reports the error's message.
 * - SAM2Train forward + MultiStepMultiMasksAndIous + backward at each `--train-res` (256):
 *   `--frames` (8) frames, 2 objects, a seeded TrainRandom and mini.yaml's training options, for
 *   `mini` (the baseline) and tiny; process CPU time, peak bytes, the core loss and how many
 *   parameters got a gradient. A warm-up step runs first unless `--no-warmup` or the model
 *   already ran at a smaller resolution. `--train ""` leaves it out.
 * - `--check`: for each size and resolution, the encoder's outputs at the device's binding limit
 *   against the same forward at a pretend smaller limit (`gpu().setMaxBindingOverride`; it can
 *   only lower the limit), which makes the big launches split: by default the device limit ×
 *   (res/1024)², so a 512 run splits where a 1024 run does at the real limit. Reports the largest
 *   absolute and relative differences; fails (exit code 1) above 1e-4 relative or on a
 *   non-finite output, or an error where the pretend limit split no launch (launches counted).
 * - `--stack`: a failing case also prints its stack trace (which op, called from where).
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
import process from "node:process";

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
const noWarmup = args.includes("--no-warmup");
const check = args.includes("--check");
const checkLimitMiB = opt("--check-limit", "");
const trainResList = opt("--train-res", "256").split(",").map(Number);
const FRAMES = Number(opt("--frames", "8"));
/** Also time each train model with `Hiera.actCheckpoint` on (name suffixed "+ckpt"). */
const actCkpt = args.includes("--act-ckpt");
const trainModels = opt("--train", quick ? "mini" : "mini,t").split(",").filter(Boolean);
for (const r of [...resList, ...trainResList]) {
  if (!Number.isInteger(r) || r <= 0 || r % 32 !== 0) {
    throw new RangeError(`--res: ${r} is not a positive multiple of 32`);
  }
}
if (!Number.isInteger(FRAMES) || FRAMES < 1) throw new RangeError(`--frames: need an integer >= 1`);
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

/** Process CPU time in ms (every thread: lavapipe's workers run inside this process). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface EncoderCase {
  size: string;
  res: number;
  status: Status;
  ms?: number;
  cpuMs?: number;
  launches?: number;
  estMs?: number;
  msPerMpix?: number;
  largestMiB?: number;
  finite?: boolean;
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

/**
 * Launches so far: `gpu().launch` counted, so that a split run shows more launches than an
 * unsplit one (the proof that the pretend limit made launches split).
 */
let launches = 0;
{
  const launch = rt.launch.bind(rt);
  rt.launch = (kernel, launchArgs) => {
    launches++;
    launch(kernel, launchArgs);
  };
}

/** Every output of a forward (backbone_fpn then vision_pos_enc) read back, and its times. */
async function encoderForward(
  enc: ImageEncoder,
  image: Tensor,
): Promise<{ ms: number; cpuMs: number; launches: number; outs: Float32Array[] }> {
  const c0 = cpuMs(), t0 = performance.now(), l0 = launches;
  const outs = noGrad(() =>
    tidy(() => {
      const o = enc.forward(image);
      return [...o.backbone_fpn, ...o.vision_pos_enc];
    })
  );
  try {
    const arrays: Float32Array[] = [];
    for (const t of outs) arrays.push(Float32Array.from(await t.toArray() as ArrayLike<number>));
    await gpu().sync();
    return {
      ms: performance.now() - t0,
      cpuMs: cpuMs() - c0,
      launches: launches - l0,
      outs: arrays,
    };
  } finally {
    // vision_pos_enc are views of the position encoding's cached tables: not ours to free.
    disposeAll(outs.slice(0, outs.length / 2));
  }
}

function allFinite(arrays: Float32Array[]): boolean {
  return arrays.every((a) => a.every(Number.isFinite));
}

/** `--stack`: print a failing case's stack trace to stderr (which op, called from where). */
const printStacks = args.includes("--stack");
function errorNote(e: unknown): string {
  if (printStacks) console.error((e as Error)?.stack ?? e);
  return String((e as Error)?.message ?? e).split("\n")[0].slice(0, 300);
}

const encoderCases: EncoderCase[] = [];
// `--check` runs the comparison alone.
for (const size of check ? [] : sizes) {
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
    c.largestMiB = largestActivationBytes(enc.trunk.plan, res) / MiB;
    if (c.estMs !== undefined && c.estMs > budgetS * 1000) {
      c.status = "skipped";
      log(`${size} @${res}: skipped (est. ${(c.estMs / 1000).toFixed(0)} s)`);
      continue;
    }
    manualSeed(1);
    const image = randn([1, 3, res, res]);
    try {
      // The warm-up compiles pipelines; it is left out where it alone would blow the budget.
      if (!noWarmup && (c.estMs === undefined || c.estMs * 2 <= budgetS * 1000)) {
        await encoderForward(enc, image);
        c.warm = true;
      }
      await gpu().sync();
      const base = gpu().pool.stats().liveBytes;
      gpu().pool.resetPeak();
      const r = await encoderForward(enc, image);
      c.ms = r.ms;
      c.cpuMs = r.cpuMs;
      c.launches = r.launches;
      c.finite = allFinite(r.outs);
      c.peakMiB = (gpu().pool.stats().peakBytes - base) / MiB;
      c.msPerMpix = c.ms / (res * res / 1e6);
      if (res === 256) ms256 = c.ms;
      log(
        `${size} @${res}: ${(c.ms / 1000).toFixed(2)} s${c.warm ? "" : " (no warm-up)"}, ` +
          `CPU ${(c.cpuMs / 1000).toFixed(1)} s, peak ${c.peakMiB.toFixed(0)} MiB above ` +
          `${c.paramsMiB.toFixed(0)} MiB of weights, largest activation ${
            c.largestMiB.toFixed(0)
          } MiB, outputs ${c.finite ? "finite" : "NOT finite"}`,
      );
    } catch (e) {
      c.status = isBindingError(e) ? "exceeds binding limit" : "error";
      c.note = errorNote(e);
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

// ---- split vs unsplit ----

interface CheckCase {
  size: string;
  res: number;
  /** The pretend binding limit of the split run. */
  limitMiB: number;
  largestMiB: number;
  status: "ok" | "mismatch" | "error";
  unsplitMs?: number;
  splitMs?: number;
  unsplitLaunches?: number;
  splitLaunches?: number;
  maxAbsDiff?: number;
  /** Largest |split - unsplit| over the largest |unsplit| of the same output. */
  maxRelDiff?: number;
  identical?: boolean;
  finite?: boolean;
  note?: string;
}
const CHECK_TOL = 1e-4;
const checkCases: CheckCase[] = [];
if (check) {
  for (const size of sizes) {
    const cfg = await loadModelConfig(CONFIGS[size]);
    manualSeed(3);
    const enc = new ImageEncoder(cfg.model.image_encoder);
    enc.eval();
    for (const res of resList) {
      const align = rt.device.limits.minStorageBufferOffsetAlignment;
      const limit = checkLimitMiB
        ? Math.floor(Number(checkLimitMiB) * MiB / align) * align
        : Math.floor(maxBinding * (res / 1024) ** 2 / align) * align;
      const c: CheckCase = {
        size,
        res,
        limitMiB: limit / MiB,
        largestMiB: largestActivationBytes(enc.trunk.plan, res) / MiB,
        status: "ok",
      };
      checkCases.push(c);
      manualSeed(1);
      const image = randn([1, 3, res, res]);
      try {
        if (!(limit > 0) || limit >= maxBinding) {
          throw new RangeError(
            `pretend limit ${limit} bytes is not below the device's ${maxBinding}: ` +
              "give --check-limit MiB",
          );
        }
        const a = await encoderForward(enc, image);
        gpu().setMaxBindingOverride(limit);
        let b;
        try {
          b = await encoderForward(enc, image);
        } finally {
          gpu().setMaxBindingOverride(null);
        }
        c.unsplitMs = a.ms;
        c.splitMs = b.ms;
        c.unsplitLaunches = a.launches;
        c.splitLaunches = b.launches;
        let abs = 0, rel = 0, same = true;
        for (let i = 0; i < a.outs.length; i++) {
          let d = 0, m = 0;
          for (let j = 0; j < a.outs[i].length; j++) {
            const x = a.outs[i][j], y = b.outs[i][j];
            if (x !== y) same = false;
            d = Math.max(d, Math.abs(x - y));
            m = Math.max(m, Math.abs(x));
          }
          abs = Math.max(abs, d);
          rel = Math.max(rel, m > 0 ? d / m : d);
        }
        c.maxAbsDiff = abs;
        c.maxRelDiff = rel;
        c.identical = same;
        c.finite = allFinite(a.outs) && allFinite(b.outs);
        if (!c.finite || !(rel <= CHECK_TOL)) c.status = "mismatch";
        else if (b.launches <= a.launches) {
          c.status = "error";
          c.note = "the pretend limit split no launch: lower --check-limit";
        }
        log(
          `check ${size} @${res}: device limit vs pretend ${c.limitMiB.toFixed(2)} MiB ` +
            `(largest activation ${c.largestMiB.toFixed(1)} MiB): ` +
            `${
              same
                ? "bit-identical"
                : `max abs diff ${abs.toExponential(2)}, rel ${rel.toExponential(2)}`
            }, ${c.finite ? "finite" : "NOT finite"}: ${c.status}, ${a.launches} launches ` +
            `unsplit vs ${b.launches} split ` +
            `(${(a.ms / 1000).toFixed(1)} s / ${(b.ms / 1000).toFixed(1)} s)`,
        );
      } catch (e) {
        c.status = "error";
        c.note = errorNote(e);
        log(`check ${size} @${res}: error: ${c.note}`);
        await gpu().sync().catch(() => {});
      } finally {
        image.dispose();
      }
    }
    enc.dispose();
    await gpu().sync();
  }
}

// ---- SAM2Train forward + backward ----

interface TrainCase {
  model: string;
  res: number;
  frames: number;
  objects: number;
  status: Status;
  ms?: number;
  cpuMs?: number;
  estMs?: number;
  forwardMs?: number;
  backwardMs?: number;
  peakMiB?: number;
  paramsMiB?: number;
  relToMini?: number;
  warm?: boolean;
  coreLoss?: number;
  /** Parameters holding a gradient after the backward, of `params`. */
  withGrad?: number;
  params?: number;
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
const OBJECTS = 2;
const trainCases: TrainCase[] = [];

async function trainStep(model: SAM2Train, batch: GpuVideoBatch, loss: MultiStepMultiMasksAndIous) {
  model.zeroGrad();
  const c0 = cpuMs();
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
  // Parameters the backward reached (0 would mean the loss carried no graph).
  const withGrad = model.parameters().filter((p) => p.grad).length;
  return { forwardMs: t1 - t0, backwardMs: t2 - t1, cpuMs: cpuMs() - c0, coreLoss, withGrad };
}

const trainRuns = check ? [] : trainModels.flatMap((m) => actCkpt ? [m, `${m}+ckpt`] : [m]);
for (const TRAIN_RES of trainResList) {
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
    const miniCase = trainCases.find((x) =>
      x.model.startsWith("mini") && x.res === TRAIN_RES && x.ms
    );
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
      // Warm-up (pipeline compiles), left out where a smaller resolution of the model already ran.
      c.warm = !noWarmup && !trainCases.some((x) => x.model === run && x.res < TRAIN_RES && x.ms);
      if (c.warm) await trainStep(model, batch, loss);
      model.zeroGrad();
      await gpu().sync();
      const base2 = gpu().pool.stats().liveBytes;
      gpu().pool.resetPeak();
      const r = await trainStep(model, batch, loss);
      c.forwardMs = r.forwardMs;
      c.backwardMs = r.backwardMs;
      c.ms = r.forwardMs + r.backwardMs;
      c.cpuMs = r.cpuMs;
      c.coreLoss = r.coreLoss;
      c.withGrad = r.withGrad;
      c.params = model.parameters().length;
      c.peakMiB = (gpu().pool.stats().peakBytes - base2) / MiB;
      log(
        `train ${name} @${TRAIN_RES}: ${(c.ms / 1000).toFixed(2)} s ` +
          `(forward ${(r.forwardMs / 1000).toFixed(2)} s, backward ${
            (r.backwardMs / 1000).toFixed(2)
          } s), CPU ${(r.cpuMs / 1000).toFixed(1)} s, peak ${
            c.peakMiB.toFixed(0)
          } MiB above weights, core loss ${r.coreLoss.toPrecision(5)}, ` +
          `${r.withGrad}/${c.params} parameters with grad`,
      );
    } catch (e) {
      c.status = isBindingError(e) ? "exceeds binding limit" : "error";
      c.note = errorNote(e);
      log(`train ${name} @${TRAIN_RES}: ${c.status}: ${c.note}`);
    } finally {
      batch.imgBatch.dispose();
      model.dispose();
      await gpu().sync().catch(() => {});
    }
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

if (checkCases.some((c) => c.status !== "ok")) Deno.exitCode = 1;
if (json) {
  console.log(JSON.stringify({
    benchmark: "model",
    device,
    budgetS,
    encoder: encoderCases,
    train: trainCases,
    ...(check ? { check: checkCases } : {}),
  }));
} else {
  console.log(
    `\nDevice: ${device.adapter} (${device.cores} cores, load ${
      device.loadavg.map((x) => x.toFixed(2)).join(" ")
    }), max storage binding ${device.maxStorageBindingMiB} MiB, per-case budget ${budgetS} s`,
  );
  if (check) {
    console.log(`\nSplit vs unsplit encoder outputs (tolerance ${CHECK_TOL} relative):`);
    for (const c of checkCases) {
      console.log(
        `${c.size.padEnd(5)} @${c.res} pretend limit ${c.limitMiB.toFixed(2)} MiB: ${c.status}` +
          (c.note ? ` (${c.note})` : "") +
          (c.maxRelDiff !== undefined
            ? ` (max abs ${c.maxAbsDiff!.toExponential(2)}, rel ${c.maxRelDiff.toExponential(2)}` +
              `${c.identical ? ", bit-identical" : ""}, launches ${c.unsplitLaunches} unsplit, ` +
              `${c.splitLaunches} split)`
            : ""),
      );
    }
  }
  if (!check) printTables();
}

function printTables() {
  const f = (v: number | undefined, d = 2) => v === undefined ? "-" : v.toFixed(d);
  console.log("\nImage encoder forward (batch 1, eval):");
  console.log("size  res    time s   CPU s   ms/Mpix   vs t@256  peak MiB  weights MiB  status");
  for (const c of encoderCases) {
    const status = c.status === "skipped"
      ? `skipped (est. ${f((c.estMs ?? 0) / 1000, 0)} s)`
      : c.status === "ok"
      ? (c.warm ? "ok" : "ok, no warm-up")
      : c.status;
    console.log(
      `${c.size.padEnd(5)} ${String(c.res).padEnd(6)} ${f(c.ms && c.ms / 1000).padStart(7)}  ${
        f(c.cpuMs && c.cpuMs / 1000, 1).padStart(6)
      }  ${f(c.msPerMpix, 0).padStart(8)}  ${f(c.relToT256).padStart(8)}  ${
        f(c.peakMiB, 0).padStart(8)
      }  ${f(c.paramsMiB, 0).padStart(11)}  ${status}`,
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
