/**
 * `deno task bench attention [--json] [--full] [--only name,...] [--rows N] [--block N]`:
 * fused attention forward and backward, layer norm and the AdamW step, each as GFLOP/s (or
 * GB/s) and as a ratio to the rate of our own matmul (or elementwise add, for bandwidth-bound
 * kernels) timed in the same run on the same device.
 *
 * Sizes: self-attention seq 4096 / head dim 64 (Hiera global block, one head); SAM 2 memory
 * attention 4096 queries x 28,672 keys / dim 256 — by default REDUCED to 512 x 3584 (same
 * 1:7 ratio, 1/64 of the work) because full size takes minutes on lavapipe; `--full` runs it;
 * Hiera windowed attention 256 windows x 64 tokens / dim 96; AdamW over 10M parameters in 40
 * tensors. Backward FLOPs are counted as 2.5x forward (dQ, dK, dV and the score recompute).
 * On a CPU adapter the Hiera case's backward runs the one-pass kernel (one invocation per
 * window), the others the dQ and dK/dV kernels. Each time is the median of 5 runs (cheap cases),
 * 3 (default sizes) or 1 (`--full`) after a warm-up run ("first call").
 */
import process from "node:process";
import { initGpu } from "../src/gpu/mod.ts";
import { add, layerNorm, matmul, scaledDotProductAttention, tidy } from "../src/tensor/mod.ts";
import { AdamW } from "../src/train/optim/adamw.ts";
import { randTensor } from "./kernels/_attention_inputs.ts";

const args = Deno.args;
const json = args.includes("--json");
const full = args.includes("--full");
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = opt("--only")?.split(",");
const rows = opt("--rows") ? Number(opt("--rows")) : undefined;
const block = opt("--block") ? Number(opt("--block")) : undefined;

const rt = await initGpu();
const cores = Math.min(2, navigator.hardwareConcurrency);

/** Process CPU time in ms (lavapipe runs in our threads: robust to other processes' load). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Time of the last `time()` call's warm-up run (pipeline compiles included), same clock. */
let lastFirst = 0;

/**
 * Median time in ms of `fn` (encoded then synced), after one warm-up (compile) run. On a CPU
 * adapter this is process CPU time divided by the cores lavapipe can use (2 here): wall time
 * on a machine shared with other jobs is noise. On a real GPU it is wall time.
 */
async function time(fn: () => void, reps = 3): Promise<number> {
  const w0 = performance.now(), c0 = cpuMs();
  fn();
  await rt.sync();
  lastFirst = rt.isCpuAdapter ? (cpuMs() - c0) / cores : performance.now() - w0;
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const w = performance.now(), c = cpuMs();
    fn();
    await rt.sync();
    ts.push(rt.isCpuAdapter ? (cpuMs() - c) / cores : performance.now() - w);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

interface Row {
  name: string;
  ms: number;
  /** First call (kernel compiles included; backward: minus one forward), same clock as ms. */
  firstMs?: number;
  rate: number;
  unit: "GFLOP/s" | "GB/s";
  ratio: number;
  baseline: string;
}
const rowsOut: Row[] = [];
const want = (n: string) => !only || only.some((o) => n.startsWith(o));

// Baselines: our matmul (compute) and elementwise add (bandwidth), same device, same run.
const mmN = 1024;
const ma = randTensor([mmN, mmN], 1), mb = randTensor([mmN, mmN], 2);
const mmMs = await time(() => tidy(() => void matmul(ma, mb)));
const mmRate = (2 * mmN ** 3) / mmMs / 1e6;
const addN = 1 << 22;
const aa = randTensor([addN], 3), ab = randTensor([addN], 4);
const addMs = await time(() => tidy(() => void add(aa, ab)));
const addRate = (12 * addN) / addMs / 1e6;

async function attention(name: string, bh: number, lq: number, lk: number, d: number) {
  if (!want(name)) return;
  const q = randTensor([1, bh, lq, d], 5),
    k = randTensor([1, bh, lk, d], 6),
    v = randTensor([1, bh, lk, d], 7);
  const g = randTensor([1, bh, lq, d], 8);
  const tiling = rows || block ? { rows, block } : undefined;
  const flops = 4 * bh * lq * lk * d;
  // Median of 5 runs for the cheap cases (a single ~40 ms run was mostly noise on a shared VM),
  // 3 for the default sizes, 1 at full size.
  const reps = flops <= 2 ** 30 ? 5 : full ? 1 : 3;
  const fwd = await time(
    () => tidy(() => void scaledDotProductAttention(q, k, v, { tiling })),
    reps,
  );
  rowsOut.push({
    name: `${name} fwd`,
    ms: fwd,
    firstMs: lastFirst,
    rate: flops / fwd / 1e6,
    unit: "GFLOP/s",
    ratio: flops / fwd / 1e6 / mmRate,
    baseline: "matmul",
  });
  const qg = q.alias(), kg = k.alias(), vg = v.alias();
  for (const t of [qg, kg, vg]) t.requiresGrad = true;
  const both = await time(() =>
    tidy(() => {
      const o = scaledDotProductAttention(qg, kg, vg, { tiling });
      o.backward({ grad: g });
      for (const t of [qg, kg, vg]) {
        t.grad?.dispose();
        t.grad = null;
      }
    }), reps);
  const bwd = Math.max(1e-3, both - fwd);
  rowsOut.push({
    name: `${name} bwd`,
    ms: bwd,
    firstMs: lastFirst - fwd,
    rate: (2.5 * flops) / bwd / 1e6,
    unit: "GFLOP/s",
    ratio: (2.5 * flops) / bwd / 1e6 / mmRate,
    baseline: "matmul",
  });
  for (const t of [q, k, v, g, qg, kg, vg]) t.dispose();
}

await attention("self-attn L4096 d64", 1, 4096, 4096, 64);
if (full) await attention("memory-attn 4096x28672 d256 (full)", 1, 4096, 28672, 256);
else await attention("memory-attn 512x3584 d256 (reduced 1/64)", 1, 512, 3584, 256);
await attention("hiera windows 256x64 d96", 256, 64, 64, 96);

if (want("layer norm")) {
  const x = randTensor([32768, 256], 9), w = randTensor([256], 10), b = randTensor([256], 11);
  const ms = await time(() => tidy(() => void layerNorm(x, w, b, { eps: 1e-6 })));
  const gbs = (8 * x.size) / ms / 1e6;
  rowsOut.push({
    name: "layer norm [32768,256]",
    ms,
    rate: gbs,
    unit: "GB/s",
    ratio: gbs / addRate,
    baseline: "add",
  });
}

if (want("adamw")) {
  const params = Array.from({ length: 40 }, (_, i) => {
    const p = randTensor([250_000], 20 + i);
    p.grad = randTensor([250_000], 100 + i, 0.01);
    return p;
  });
  const opt = new AdamW([{ params, lr: 1e-4, weightDecay: 0.1 }]);
  const ms = await time(() => opt.step());
  const gbs = (28 * 10_000_000) / ms / 1e6;
  rowsOut.push({
    name: "adamw 10M params (40 tensors)",
    ms,
    rate: gbs,
    unit: "GB/s",
    ratio: gbs / addRate,
    baseline: "add",
  });
}

const device = rt.adapterName;
if (json) {
  console.log(JSON.stringify({
    device,
    timing: rt.isCpuAdapter ? `process CPU time / ${cores}` : "wall",
    matmul: { n: mmN, ms: mmMs, gflops: mmRate },
    add: { n: addN, ms: addMs, gbs: addRate },
    rows: rowsOut,
  }));
} else {
  console.log(`device: ${device}${rt.isCpuAdapter ? ` (times = CPU time / ${cores} cores)` : ""}`);
  console.log(`baseline matmul ${mmN}^3: ${mmMs.toFixed(1)} ms, ${mmRate.toFixed(2)} GFLOP/s`);
  console.log(`baseline add 4M: ${addMs.toFixed(1)} ms, ${addRate.toFixed(2)} GB/s`);
  for (const r of rowsOut) {
    console.log(
      `${r.name.padEnd(44)} ${r.ms.toFixed(1).padStart(9)} ms ${r.rate.toFixed(2).padStart(8)} ` +
        `${r.unit}  ${r.ratio.toFixed(2)}x ${r.baseline}` +
        (r.firstMs !== undefined ? `  (first call ${r.firstMs.toFixed(0)} ms)` : ""),
    );
  }
}
