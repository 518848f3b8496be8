/**
 * Conv cases: conv2d 3x3 64->64 on 128x128, depthwise 7x7 on 256 channels at 64x64 and the
 * MaskDownSampler's 3x3 stride 2 64->256 (forward, input gradient, weight gradient), as GFLOP/s,
 * as a ratio to our matmul's rate on the conv's GEMM shape (O x C*KH*KW x OH*OW) timed
 * round-robin in the same run, and against numpy doing the same conv as im2col + matmul (when
 * python3 + numpy exist). On a CPU adapter the ratios are given twice: from wall time
 * (`*_over_matmul_rate`) and from process CPU time (`*_over_matmul_cpu`: lavapipe runs in-process,
 * so this one is steadier on a shared machine). `*_first_ms` is each op's first call (pipeline
 * compile plus one run).
 */
import type { ConvShape } from "../../src/kernels/conv.ts";
import { matmulRaw, type Tensor, tensor } from "../../src/tensor/mod.ts";
import {
  convForwardRaw,
  convInputGradRaw,
  convWeightGradRaw,
} from "../../src/tensor/ops/_conv_launch.ts";
import process from "node:process";
import { gpu } from "../../src/gpu/mod.ts";
import { tidy } from "../../src/tensor/mod.ts";
import { rand } from "./_timing.ts";
import { benchCase, type BenchContext } from "./_registry.ts";

/** Process CPU seconds (lavapipe's threads run in this process). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Per function: first-call wall seconds (compile + one run), then the minimum over `trials`
 * round-robin runs (one awaited submit each) of wall seconds and of CPU seconds / 2 (the cores
 * lavapipe uses here).
 */
async function timeRoundRobin(
  fns: (() => void)[],
  trials: number,
): Promise<{ first: number[]; wall: number[]; cpu: number[] }> {
  const first: number[] = [];
  for (const f of fns) {
    const t0 = performance.now();
    tidy(f);
    await gpu().sync();
    first.push((performance.now() - t0) / 1000);
  }
  const wall = fns.map(() => Infinity), cpu = fns.map(() => Infinity);
  for (let t = 0; t < trials; t++) {
    for (const [i, f] of fns.entries()) {
      const t0 = performance.now(), c0 = cpuSeconds();
      tidy(f);
      await gpu().sync();
      wall[i] = Math.min(wall[i], (performance.now() - t0) / 1000);
      cpu[i] = Math.min(cpu[i], (cpuSeconds() - c0) / 2);
    }
  }
  return { first, wall, cpu };
}

/** numpy seconds for the same conv (im2col with stride tricks + matmul / batched matmul). */
function numpyConv(s: ConvShape, trials: number): number | null {
  const py = `
import numpy as np, time
from numpy.lib.stride_tricks import sliding_window_view as swv
N, C, H, W, O, K = ${s.n}, ${s.c}, ${s.h}, ${s.w}, ${s.o}, ${s.kh}
P, G, S = ${s.padding[0]}, ${s.groups}, ${s.stride[0]}
x = np.random.rand(N, C, H, W).astype(np.float32)
w = np.random.rand(O, C // G, K, K).astype(np.float32)
def conv():
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    win = swv(xp, (K, K), axis=(2, 3))[:, :, ::S, ::S]  # N, C, OH, OW, K, K
    OH, OW = win.shape[2], win.shape[3]
    if G == 1:
        col = np.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(N, C * K * K, OH * OW)
        return w.reshape(O, -1) @ col
    col = np.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(N, C, K * K, OH * OW)
    return w.reshape(C, 1, K * K) @ col
conv()
ts = []
for _ in range(${trials}):
    t0 = time.perf_counter(); conv(); ts.append(time.perf_counter() - t0)
ts.sort(); print(ts[len(ts) // 2])
`;
  try {
    const out = new Deno.Command("python3", { args: ["-c", py], stdout: "piped", stderr: "null" })
      .outputSync();
    return out.success ? Number(new TextDecoder().decode(out.stdout).trim()) : null;
  } catch {
    return null;
  }
}

async function convCase(ctx: BenchContext, s: ConvShape): Promise<Record<string, number | string>> {
  const trials = ctx.quick ? 2 : 4;
  const cg = s.c / s.groups;
  const flop = 2 * s.n * s.o * s.oh * s.ow * cg * s.kh * s.kw;
  const x = tensor(rand(s.n * s.c * s.h * s.w, 1), [s.n, s.c, s.h, s.w]);
  const w = tensor(rand(s.o * cg * s.kh * s.kw, 2), [s.o, cg, s.kh, s.kw]);
  const g = tensor(rand(s.n * s.o * s.oh * s.ow, 3), [s.n, s.o, s.oh, s.ow]);
  // Matmul baseline on the conv's GEMM shape: [O, C*KH*KW] @ [C*KH*KW, OH*OW].
  // Depthwise has no GEMM of its own: compare with the dense 3x3 64->64 GEMM at its pixel count.
  const mm = s.groups === 1
    ? { m: s.o, k: cg * s.kh * s.kw, n: s.oh * s.ow }
    : { m: 64, k: 576, n: s.oh * s.ow };
  const a = tensor(rand(mm.m * mm.k, 4), [mm.m, mm.k]);
  const b = tensor(rand(mm.k * mm.n, 5), [mm.k, mm.n]);
  const mmFlop = 2 * mm.m * mm.k * mm.n;
  ctx.log("matmul baseline, forward, input grad, weight grad (round-robin)");
  const { first, wall, cpu } = await timeRoundRobin([
    () => void matmulRaw(a, b),
    () => void convForwardRaw(x, w, null, s),
    () => void convInputGradRaw(g, w, null, s),
    () => void convWeightGradRaw(g, x, s),
  ], trials);
  const [tMm, tF, tX, tW] = wall;
  const mmRate = mmFlop / tMm / 1e9;
  const rate = (t: number) => +(flop / t / 1e9).toFixed(3);
  const metrics: Record<string, number | string> = {
    gflop: +(flop / 1e9).toFixed(3),
    matmul_baseline: `${mm.m}x${mm.k}x${mm.n}`,
    matmul_gflops: +mmRate.toFixed(3),
    fwd_ms: +(tF * 1e3).toFixed(2),
    fwd_gflops: rate(tF),
    fwd_over_matmul_rate: +(rate(tF) / mmRate).toFixed(2),
    input_grad_gflops: rate(tX),
    input_grad_over_matmul_rate: +(rate(tX) / mmRate).toFixed(2),
    weight_grad_gflops: rate(tW),
    weight_grad_over_matmul_rate: +(rate(tW) / mmRate).toFixed(2),
  };
  if (gpu().isCpuAdapter) {
    const mmCpu = mmFlop / cpu[0];
    const ratio = (t: number) => +(flop / t / mmCpu).toFixed(2);
    metrics.matmul_cpu_gflops = +(mmCpu / 1e9).toFixed(3);
    metrics.fwd_over_matmul_cpu = ratio(cpu[1]);
    metrics.input_grad_over_matmul_cpu = ratio(cpu[2]);
    metrics.weight_grad_over_matmul_cpu = ratio(cpu[3]);
  }
  metrics.fwd_first_ms = +(first[1] * 1e3).toFixed(0);
  metrics.input_grad_first_ms = +(first[2] * 1e3).toFixed(0);
  metrics.weight_grad_first_ms = +(first[3] * 1e3).toFixed(0);
  const np = numpyConv(s, trials);
  if (np) {
    metrics.numpy_im2col_ms = +(np * 1e3).toFixed(2);
    metrics.fwd_pct_of_numpy = +(100 * np / tF).toFixed(1);
  }
  [x, w, g, a, b].forEach((t: Tensor) => t.dispose());
  return metrics;
}

const shape = (
  c: number,
  o: number,
  hw: number,
  k: number,
  groups: number,
  stride = 1,
): ConvShape => {
  const p = (k - 1) / 2, out = Math.floor((hw + 2 * p - k) / stride) + 1;
  return {
    n: 1,
    c,
    h: hw,
    w: hw,
    o,
    oh: out,
    ow: out,
    groups,
    kh: k,
    kw: k,
    stride: [stride, stride],
    padding: [p, p],
    dilation: [1, 1],
  };
};

benchCase({
  family: "conv",
  name: "conv2d",
  async run(ctx) {
    return [
      { name: "conv2d 3x3 64->64 128x128", metrics: await convCase(ctx, shape(64, 64, 128, 3, 1)) },
      {
        name: "depthwise 7x7 256ch 64x64",
        metrics: await convCase(ctx, shape(256, 256, 64, 7, 256)),
      },
      {
        name: "conv2d 3x3 s2 64->256 128x128 (MaskDownSampler)",
        metrics: await convCase(ctx, shape(64, 256, 128, 3, 1, 2)),
      },
    ];
  },
});
