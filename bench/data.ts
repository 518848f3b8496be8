/**
 * `deno task bench data [--json] [--clips N] [--workers N] [--pixel-clips N] [--no-pixels]`:
 * training clips per second — 8 frames from the DAVIS 2016 fixtures (854x480), the reference
 * MOSE transforms to 1024x1024, collated — inline and through the Worker loader, with the
 * time to merely decode 8 JPEGs as the baseline (ratio = clip time / decode time).
 *
 * Then the pixel transforms alone, CPU path against GPU path on the same decoded clips with
 * the same seeds (ratio = GPU time / CPU time, wall and CPU seconds of this process), and how
 * many output values the two paths disagree on.
 *
 * `--pixels gpu [--e2e-clips N]`: also end to end, loader `pixels: "cpu"` against `pixels:
 * "gpu", imagesOnGpu: true` in the same run, same seed and workers: from asking the loader for
 * a batch to the trainer holding the model input on the GPU (CPU mode: collated host array
 * uploaded as the SAM 2 task does; GPU mode: the batch's own tensor, nothing read back or
 * uploaded), GPU work waited for (ratio = GPU mode time / CPU mode time); and GPU pixels read
 * back into host arrays then uploaded (`imagesOnGpu: false`, what the trainer got before).
 * Modes run in ABBA order (CPU, GPU, read back, read back, GPU, CPU), each N batches after
 * one warm-up batch.
 */
import {
  buildTransforms,
  type ClipDatasetSpec,
  ClipLoader,
  decodeRgb,
  GpuPixelPipeline,
  isGpuBatch,
  moseTrainTransformSpecs,
  openClipDataset,
  PIXEL_OPS_ON_GPU,
  readFrameTensors,
  Rng,
  type VideoDatapoint,
} from "../src/data/mod.ts";
import { gpu, initGpu, settleGpu } from "../src/gpu/mod.ts";
import { tensor } from "../src/tensor/mod.ts";

const args = Deno.args;
const json = args.includes("--json");
const num = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
// Each Worker JIT-compiles the transforms on its first clips: 8 clips measured mostly warm-up.
const clips = num("--clips", 24);
const workers = num("--workers", 2);
const pixelClips = args.includes("--no-pixels") ? 0 : num("--pixel-clips", 3);
const pixelsArg = args.includes("--pixels") ? args[args.indexOf("--pixels") + 1] : "cpu";
if (pixelsArg !== "cpu" && pixelsArg !== "gpu") {
  throw new Error(`--pixels takes "cpu" or "gpu", got "${pixelsArg}"`);
}
const e2eClips = num("--e2e-clips", 2);
const FIX = new URL("../../shared/fixtures/davis2016/", import.meta.url).pathname;

const spec: ClipDatasetSpec = {
  raw: { kind: "png", imgFolder: `${FIX}JPEGImages`, gtFolder: `${FIX}Annotations` },
  sampler: { numFrames: 8, maxNumObjects: 3, reverseTimeProb: 0 },
  transforms: moseTrainTransformSpecs(1024),
  multiplier: clips, // enough items for the run
};

// Baseline: decode 8 frames (what any loader must do at least).
const frames = [...Array(8).keys()].map((i) =>
  `${FIX}JPEGImages/blackswan/${String(i).padStart(5, "0")}.jpg`
);
await decodeRgb(frames[0]);
const t = performance.now();
const reps = 3;
for (let r = 0; r < reps; r++) for (const f of frames) await decodeRgb(f);
const decodeMs = (performance.now() - t) / reps;

/** CPU seconds used by this process (all threads), from /proc (Linux), or NaN. */
function cpuSeconds(): number {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return NaN;
  }
}

let lastCpuPerClip = NaN;
async function run(w: number): Promise<number> {
  const loader = await ClipLoader.create({
    datasets: [spec],
    batchSizes: [1],
    workers: w,
    seed: 1,
    pixels: "cpu",
  });
  try {
    let n = 0;
    const it = loader.epoch(0);
    await it.next(); // warm-up (JIT, first decode)
    const t0 = performance.now();
    const c0 = cpuSeconds();
    for await (const b of it) {
      if (b.numFrames !== 8 || b.height !== 1024) throw new Error("unexpected batch shape");
      loader.recycle(b);
      if (++n >= clips) break;
    }
    lastCpuPerClip = (cpuSeconds() - c0) / n;
    return n / ((performance.now() - t0) / 1000);
  } finally {
    loader.close();
  }
}

const inline = await run(0);
const cpuInline = lastCpuPerClip;
const pooled = workers > 0 ? await run(workers) : NaN;
const cpuPooled = lastCpuPerClip;
// --- pixel transforms: CPU path vs GPU path on the same clips, same seeds ---
interface PixelResult {
  adapter: string;
  cpu_ms_per_clip: number;
  gpu_ms_per_clip: number;
  gpu_with_readback_ms_per_clip: number;
  cpu_s_per_clip_cpu_path: number;
  cpu_s_per_clip_gpu_path: number;
  gpu_over_cpu_wall: number;
  gpu_over_cpu_cpu_seconds: number;
  values_differing_frac: number;
}
async function pixelBench(n: number): Promise<PixelResult> {
  const rt = await initGpu();
  const raw = await openClipDataset({ ...spec, transforms: [] });
  const specs = moseTrainTransformSpecs(1024);
  const cpuT = buildTransforms(specs), gpuT = buildTransforms([...specs, PIXEL_OPS_ON_GPU]);
  const pipe = new GpuPixelPipeline();
  const clone = (dp: VideoDatapoint): VideoDatapoint => ({
    ...dp,
    frames: dp.frames.map((f) => ({
      image: { ...f.image, data: f.image.data.slice() },
      objects: f.objects.map((o) => ({ ...o, segment: o.segment.slice() })),
    })),
  });
  const clips: VideoDatapoint[] = [];
  for (let i = 0; i <= n; i++) clips.push(await raw.get(i % raw.length, new Rng(100 + i)));
  let cpuMs = 0, gpuMs = 0, gpuReadMs = 0, cpuCpu = 0, gpuCpu = 0, bad = 0, total = 0;
  for (let i = 0; i <= n; i++) { // clip 0 warms up (JIT, pipeline compilation)
    let a = clone(clips[i]);
    let r = new Rng(7 + i);
    let t0 = performance.now(), c0 = cpuSeconds();
    for (const t of cpuT) a = t.apply(a, r);
    const cpuDt = performance.now() - t0, cpuDc = cpuSeconds() - c0;
    let b = clone(clips[i]);
    r = new Rng(7 + i);
    t0 = performance.now();
    c0 = cpuSeconds();
    for (const t of gpuT) b = t.apply(b, r);
    const out = pipe.run(b);
    await rt.sync();
    const gpuDt = performance.now() - t0, gpuDc = cpuSeconds() - c0;
    await readFrameTensors(b, out);
    const gpuReadDt = performance.now() - t0;
    out.dispose();
    if (i === 0) continue;
    cpuMs += cpuDt;
    gpuMs += gpuDt;
    gpuReadMs += gpuReadDt;
    cpuCpu += cpuDc;
    gpuCpu += gpuDc;
    a.frames.forEach((f, t) => {
      const x = f.tensor!, y = b.frames[t].tensor!;
      for (let k = 0; k < x.length; k++) if (Math.abs(x[k] - y[k]) > 1e-6) bad++;
      total += x.length;
    });
  }
  pipe.dispose();
  return {
    adapter: gpu().adapterName + (gpu().isCpuAdapter ? " (CPU adapter)" : ""),
    cpu_ms_per_clip: +(cpuMs / n).toFixed(1),
    gpu_ms_per_clip: +(gpuMs / n).toFixed(1),
    gpu_with_readback_ms_per_clip: +(gpuReadMs / n).toFixed(1),
    cpu_s_per_clip_cpu_path: +(cpuCpu / n).toFixed(3),
    cpu_s_per_clip_gpu_path: +(gpuCpu / n).toFixed(3),
    gpu_over_cpu_wall: +(gpuMs / cpuMs).toFixed(3),
    gpu_over_cpu_cpu_seconds: +(gpuCpu / cpuCpu).toFixed(3),
    values_differing_frac: +(bad / total).toExponential(2),
  };
}
const pixels = pixelClips > 0 ? await pixelBench(pixelClips) : null;

// --- end to end: loader in CPU vs GPU pixel mode, up to the model input on the GPU ---
interface EndToEndResult {
  clips: number;
  workers: number;
  cpu_mode_ms_per_batch: number;
  gpu_mode_ms_per_batch: number;
  cpu_mode_cpu_s_per_batch: number;
  gpu_mode_cpu_s_per_batch: number;
  gpu_over_cpu_wall: number;
  gpu_over_cpu_cpu_seconds: number;
  /** GPU pixels with the frames read back into host arrays (`imagesOnGpu: false`). */
  gpu_readback_ms_per_batch: number;
  gpu_readback_cpu_s_per_batch: number;
  gpu_readback_over_cpu_wall: number;
}
async function endToEnd(
  mode: "cpu" | "gpu" | "gpu-readback",
): Promise<{ ms: number; cpuS: number }> {
  const rt = await initGpu();
  const loader = await ClipLoader.create({
    datasets: [spec],
    batchSizes: [1],
    workers,
    seed: 1,
    pixels: mode === "cpu" ? "cpu" : "gpu",
    imagesOnGpu: mode === "gpu",
  });
  const it = loader.epoch(0);
  try {
    /** One batch as the trainer gets it: the model input [T, B, 3, H, W] on the GPU. */
    const next = async () => {
      const b = (await it.next()).value!;
      const input = isGpuBatch(b)
        ? b.imgBatch
        : tensor(b.imgBatch, [b.numFrames, b.numVideos, 3, b.height, b.width]);
      await rt.sync();
      input.dispose();
      loader.recycle(b);
    };
    await next(); // warm-up (JIT, pipeline compilation, first decode)
    const t0 = performance.now(), c0 = cpuSeconds();
    for (let i = 0; i < e2eClips; i++) await next();
    return { ms: (performance.now() - t0) / e2eClips, cpuS: (cpuSeconds() - c0) / e2eClips };
  } finally {
    await it.return(undefined);
    loader.close();
  }
}
let e2e: EndToEndResult | null = null;
if (pixelsArg === "gpu") {
  // ABBA order, so drift in the machine's load falls on both modes alike
  const c1 = await endToEnd("cpu"), g1 = await endToEnd("gpu");
  const r1 = await endToEnd("gpu-readback"), r2 = await endToEnd("gpu-readback");
  const g2 = await endToEnd("gpu"), c2 = await endToEnd("cpu");
  const mean = (a: { ms: number; cpuS: number }, b: { ms: number; cpuS: number }) => ({
    ms: (a.ms + b.ms) / 2,
    cpuS: (a.cpuS + b.cpuS) / 2,
  });
  const c = mean(c1, c2), g = mean(g1, g2), r = mean(r1, r2);
  e2e = {
    clips: e2eClips,
    workers,
    cpu_mode_ms_per_batch: +c.ms.toFixed(1),
    gpu_mode_ms_per_batch: +g.ms.toFixed(1),
    cpu_mode_cpu_s_per_batch: +c.cpuS.toFixed(3),
    gpu_mode_cpu_s_per_batch: +g.cpuS.toFixed(3),
    gpu_over_cpu_wall: +(g.ms / c.ms).toFixed(3),
    gpu_over_cpu_cpu_seconds: +(g.cpuS / c.cpuS).toFixed(3),
    gpu_readback_ms_per_batch: +r.ms.toFixed(1),
    gpu_readback_cpu_s_per_batch: +r.cpuS.toFixed(3),
    gpu_readback_over_cpu_wall: +(r.ms / c.ms).toFixed(3),
  };
}

const load = (() => {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
})();
const cpu = (() => {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ??
      "unknown CPU";
  } catch {
    return "unknown CPU";
  }
})();
const result = {
  device: `${cpu}, ${navigator.hardwareConcurrency} logical cores (CPU only)`,
  baseline_decode_8_frames_ms: +decodeMs.toFixed(1),
  clips_per_s_inline: +inline.toFixed(2),
  clips_per_s_workers: +pooled.toFixed(2),
  workers,
  cpu_s_per_clip_inline: +cpuInline.toFixed(3),
  cpu_s_per_clip_workers: +cpuPooled.toFixed(3),
  clips_per_s_if_cores_free: +(navigator.hardwareConcurrency / cpuPooled).toFixed(2),
  load_average_1min: load,
  clip_ms_inline_over_decode: +((1000 / inline) / decodeMs).toFixed(2),
  clip_ms_workers_over_decode: +((1000 / pooled) / decodeMs).toFixed(2),
  pixel_transforms: pixels,
  end_to_end_pixels: e2e,
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(`data loader on ${result.device}`);
  console.log(`baseline: decode 8 DAVIS JPEGs ${decodeMs.toFixed(1)} ms`);
  console.log(
    `inline:   ${inline.toFixed(2)} clips/s (clip = ${result.clip_ms_inline_over_decode}x decode)`,
  );
  console.log(
    `${workers} workers: ${
      pooled.toFixed(2)
    } clips/s (clip = ${result.clip_ms_workers_over_decode}x decode)`,
  );
  console.log(
    `CPU per clip: ${cpuInline.toFixed(2)} s inline, ${cpuPooled.toFixed(2)} s with workers -> ` +
      `${result.clips_per_s_if_cores_free} clips/s if all ${navigator.hardwareConcurrency} ` +
      `cores were free (load average now ${load})`,
  );
  if (pixels) {
    console.log(
      `pixel transforms, ${pixelClips} clips of 8 frames to 1024x1024, GPU = ${pixels.adapter}:`,
    );
    console.log(
      `  CPU path ${pixels.cpu_ms_per_clip} ms/clip (${pixels.cpu_s_per_clip_cpu_path} CPU s), ` +
        `GPU path ${pixels.gpu_ms_per_clip} ms/clip (${pixels.cpu_s_per_clip_gpu_path} CPU s; ` +
        `${pixels.gpu_with_readback_ms_per_clip} ms with read back)`,
    );
    console.log(
      `  GPU/CPU: ${pixels.gpu_over_cpu_wall}x wall, ${pixels.gpu_over_cpu_cpu_seconds}x CPU ` +
        `seconds; ${pixels.values_differing_frac} of the output values differ by > 1e-6`,
    );
  }
  if (e2e) {
    console.log(
      `end to end (2 x ${e2e.clips} batches of 1 clip per mode, ${e2e.workers} workers, to the ` +
        `model input ` +
        `on the GPU = ${gpu().adapterName}):`,
    );
    console.log(
      `  pixels cpu ${e2e.cpu_mode_ms_per_batch} ms/batch (${e2e.cpu_mode_cpu_s_per_batch} CPU ` +
        `s), pixels gpu ${e2e.gpu_mode_ms_per_batch} ms/batch (${e2e.gpu_mode_cpu_s_per_batch} ` +
        `CPU s)`,
    );
    console.log(
      `  GPU/CPU mode: ${e2e.gpu_over_cpu_wall}x wall, ${e2e.gpu_over_cpu_cpu_seconds}x CPU seconds`,
    );
    console.log(
      `  GPU pixels read back to host arrays (imagesOnGpu off): ${e2e.gpu_readback_ms_per_batch} ` +
        `ms/batch (${e2e.gpu_readback_cpu_s_per_batch} CPU s), ${e2e.gpu_readback_over_cpu_wall}x ` +
        `CPU mode wall`,
    );
  }
}
await settleGpu();
