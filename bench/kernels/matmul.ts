/**
 * Matmul and dispatch-cost cases: our matmul (the adapter's table config and a few others)
 * against a plain 16x16-workgroup, one-output-per-thread, workgroup-memory tiled WGSL kernel in
 * the same run, and numpy (when python3 + numpy exist) on the same shapes. On a CPU adapter times
 * are process CPU time / 2 (lavapipe runs in-process on 2 cores; wall time is noise on a shared
 * machine); `ours_compile_wall_s` is the wall time of the first (tiny) call, pipeline compile
 * included (set MESA_SHADER_CACHE_DISABLE=true to see a cold compile). BENCH_MATMUL_SWEEP=1
 * also times a few other tiles.
 */
import process from "node:process";
import { gpu, type KernelSource } from "../../src/gpu/mod.ts";
import {
  chooseMatmulTile,
  matmulRaw,
  type MatmulTile,
  setMatmulTiles,
  type Tensor,
  tensor,
  tidy,
  transpose,
  zeros,
} from "../../src/tensor/mod.ts";
import { runElementwise } from "../../src/tensor/mod.ts";
import { rand } from "./_timing.ts";
import { benchCase, type BenchContext, median } from "./_registry.ts";

/** The baseline: classic 16x16 shared-memory tiles, one output per thread, row-major A and B. */
export function baselineKernel(): KernelSource {
  return {
    label: "baseline_matmul16x16",
    code: `
struct U { M: u32, N: u32, K: u32, p: u32 };
@group(0) @binding(0) var<storage, read_write> C: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = gid.y;
  let col = gid.x;
  var acc = 0.0;
  for (var t = 0u; t < u.K; t += 16u) {
    let ak = t + lid.x;
    let bk = t + lid.y;
    ta[lid.y][lid.x] = select(0.0, A[row * u.K + ak], row < u.M && ak < u.K);
    tb[lid.y][lid.x] = select(0.0, B[bk * u.N + col], bk < u.K && col < u.N);
    workgroupBarrier();
    for (var k = 0u; k < 16u; k++) { acc += ta[lid.y][k] * tb[k][lid.x]; }
    workgroupBarrier();
  }
  if (row < u.M && col < u.N) { C[row * u.N + col] = acc; }
}
`,
    bindings: ["write", "read", "read", "uniform"],
    workgroupSize: [16, 16, 1],
  };
}

/** Wall seconds of the last `timeIt` warm-up (pipeline compile plus a tiny run). */
let lastWarmSeconds = 0;

/** Process CPU seconds (lavapipe runs in-process, so its threads are counted). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Seconds per run of `launch` (median of `trials` single runs, each submitted and awaited): on
 * a CPU adapter process CPU time / 2 (wall time is noise on a shared machine), else wall time.
 * `warm` compiles the same pipeline on a tiny problem first, so a slow kernel is not run an
 * extra time just to warm it up.
 */
async function timeIt(
  launch: () => void,
  trials: number,
  warm: () => void = launch,
): Promise<number> {
  const w0 = performance.now();
  warm();
  await gpu().sync();
  lastWarmSeconds = (performance.now() - w0) / 1000;
  const ts: number[] = [];
  for (let t = 0; t < trials; t++) {
    const t0 = performance.now(), c0 = cpuSeconds();
    launch();
    await gpu().sync();
    ts.push(gpu().isCpuAdapter ? (cpuSeconds() - c0) / 2 : (performance.now() - t0) / 1000);
  }
  return median(ts);
}

function numpyTime(m: number, k: number, n: number, reps: number): number | null {
  const env = { ...Deno.env.toObject() };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const py = `
import numpy as np, time
a = np.random.rand(${m}, ${k}).astype(np.float32); b = np.random.rand(${k}, ${n}).astype(np.float32)
a @ b
ts = []
for _ in range(${reps}):
    t0 = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t0)
ts.sort(); print(ts[len(ts) // 2])
`;
  try {
    const out = new Deno.Command("python3", {
      args: ["-c", py],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    if (!out.success) return null;
    return Number(new TextDecoder().decode(out.stdout).trim());
  } catch {
    return null;
  }
}

async function matmulCase(
  ctx: BenchContext,
  m: number,
  k: number,
  n: number,
  linearLayout: boolean,
): Promise<Record<string, number | string>> {
  const flop = 2 * m * n * k;
  const trials = ctx.quick ? 1 : 3;
  const a = tensor(rand(m * k, 1), [m, k]);
  const b = tensor(rand(k * n, 1), [k, n]);
  const bt = tensor(rand(k * n, 1), [n, k]); // Linear weight layout [out, in]
  const c = zeros([m, n]);
  const small = [tensor(rand(256, 1), [16, 16]), tensor(rand(256, 1), [16, 16]), zeros([16, 16])];
  const base = baselineKernel();
  const runBase = (x: Tensor, y: Tensor, z: Tensor, mm: number, kk: number, nn: number) =>
    gpu().launch(base, {
      buffers: [z.storage.buffer, x.storage.buffer, y.storage.buffer],
      uniforms: new Uint32Array([mm, nn, kk, 0]),
      workgroups: [Math.ceil(nn / 16), Math.ceil(mm / 16)],
    });
  ctx.log(`matmul ${m}x${k}x${n}: baseline`);
  const tBase = await timeIt(
    () => runBase(a, b, c, m, k, n),
    trials,
    () => runBase(small[0], small[1], small[2], 16, 16, 16),
  );
  const ours = (tile: MatmulTile) => {
    const mul = (x: Tensor, y: Tensor) =>
      tidy(() => void (linearLayout ? matmulRaw(x, transpose(y)) : matmulRaw(x, y)));
    setMatmulTiles(tile);
    return timeIt(() => mul(a, linearLayout ? bt : b), trials, () => mul(small[0], small[1]));
  };
  const table = chooseMatmulTile(m, n);
  ctx.log(`matmul ${m}x${k}x${n}: ours ${JSON.stringify(table)}`);
  const tOurs = await ours(table);
  const warmOurs = lastWarmSeconds;
  const metrics: Record<string, number | string> = {
    layout: linearLayout ? "A @ W^T (Linear)" : "A @ B row-major",
    tile: `${table.tm}x${table.tn} wg ${table.wgx}x${table.wgy}`,
    ours_ms: +(tOurs * 1e3).toFixed(2),
    ours_gflops: +(flop / tOurs / 1e9).toFixed(2),
    baseline_ms: +(tBase * 1e3).toFixed(2),
    baseline_gflops: +(flop / tBase / 1e9).toFixed(2),
    speedup_vs_baseline: +(tBase / tOurs).toFixed(2),
    ours_compile_wall_s: +warmOurs.toFixed(2),
  };
  if (!ctx.quick && Deno.env.get("BENCH_MATMUL_SWEEP")) {
    for (const t of [[4, 16], [8, 8], [8, 16], [16, 16]]) {
      const tile = { tm: t[0], tn: t[1], wgx: 8, wgy: 1 };
      ctx.log(`  sweep ${t}`);
      metrics[`sweep_${t[0]}x${t[1]}_gflops`] = +(flop / (await ours(tile)) / 1e9).toFixed(2);
    }
  }
  setMatmulTiles(null);
  const np = numpyTime(m, k, n, ctx.quick ? 3 : 5);
  if (np) {
    metrics.numpy_ms = +(np * 1e3).toFixed(2);
    metrics.ours_over_numpy_time = +(tOurs / np).toFixed(2);
  }
  [a, b, bt, c, ...small].forEach((t: Tensor) => t.dispose());
  return metrics;
}

benchCase({
  family: "matmul",
  name: "matmul",
  async run(ctx) {
    return [
      { name: "matmul 1024x1024x1024", metrics: await matmulCase(ctx, 1024, 1024, 1024, false) },
      { name: "matmul 4096x256x1024", metrics: await matmulCase(ctx, 4096, 256, 1024, false) },
      {
        name: "linear 4096x256x1024 (x @ W^T)",
        metrics: await matmulCase(ctx, 4096, 256, 1024, true),
      },
    ];
  },
});

benchCase({
  family: "runtime",
  name: "dispatch cost",
  async run(ctx) {
    const x = tensor([1, 2, 3, 4], [4]);
    const y = zeros([4]);
    const n = ctx.quick ? 200 : 1000;
    const one = () => runElementwise("add1", "x0 + 1.0", [x], { out: y });
    const tBatched = await timeIt(() => {
      for (let i = 0; i < n; i++) one();
    }, 3);
    // The cost of a submit that is awaited (what reading every step would cost).
    const tSync = await timeIt(() => one(), 20);
    x.dispose();
    y.dispose();
    return [{
      name: "tiny kernel dispatch",
      metrics: {
        us_per_dispatch_batched: +(tBatched / n * 1e6).toFixed(1),
        ms_per_awaited_submit: +(tSync * 1e3).toFixed(2),
        awaited_submit_over_dispatch: +(tSync / (tBatched / n)).toFixed(0),
      },
    }];
  },
});
