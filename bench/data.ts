/**
 * `deno task bench data [--json] [--clips N] [--workers N]`: training clips per second — 8
 * frames from the DAVIS 2016 fixtures (854x480), the reference MOSE transforms to 1024x1024,
 * collated — inline and through the Worker loader, with the time to merely decode 8 JPEGs
 * as the baseline (ratio = clip time / decode time).
 */
import {
  type ClipDatasetSpec,
  ClipLoader,
  decodeRgb,
  moseTrainTransformSpecs,
} from "../src/data/mod.ts";

const args = Deno.args;
const json = args.includes("--json");
const num = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const clips = num("--clips", 8);
const workers = num("--workers", 2);
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
}
