/**
 * Attention family for `deno task bench kernels`: fused attention forward and backward (Hiera
 * global block seq 4096 / d 64, SAM 2 memory attention reduced to 512 x 3584 keys / d 256 —
 * same 1:7 ratio, 1/64 of the 4096 x 28,672 work; `deno task bench attention --full` runs full
 * size) and the AdamW step over 10M parameters, as GFLOP/s (GB/s) and as ratios to our matmul
 * (elementwise add) timed in the same run. `--quick` quarters the sequence lengths and runs 1M
 * parameters. On lavapipe, time is process CPU time / 2 (wall time is noise on a shared VM).
 */
import process from "node:process";
import { gpu } from "../../src/gpu/mod.ts";
import { add, matmul, scaledDotProductAttention, tidy } from "../../src/tensor/mod.ts";
import { AdamW } from "../../src/train/optim/adamw.ts";
import { benchCase, median } from "./_registry.ts";
import { randTensor } from "./_attention_inputs.ts";

/** Median ms of `fn` after a warm-up; CPU time / 2 on a CPU adapter, else wall time. */
async function time(fn: () => void, reps: number): Promise<number> {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  fn();
  await gpu().sync();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const w = performance.now(), c = cpu();
    fn();
    await gpu().sync();
    ts.push(gpu().isCpuAdapter ? (cpu() - c) / 2 : performance.now() - w);
  }
  return median(ts);
}

async function matmulRate(): Promise<number> {
  const a = randTensor([512, 512], 1), b = randTensor([512, 512], 2);
  const ms = await time(() => tidy(() => void matmul(a, b)), 3);
  a.dispose();
  b.dispose();
  return (2 * 512 ** 3) / ms / 1e6;
}

for (
  const [name, lq, lk, d] of [
    ["self-attention L4096 d64", 4096, 4096, 64],
    ["memory attention 512x3584 d256 (1/64 of 4096x28672)", 512, 3584, 256],
  ] as const
) {
  benchCase({
    family: "attention",
    name,
    async run({ quick, log }) {
      const s = quick ? 4 : 1;
      const q = randTensor([1, 1, lq / s, d], 5), k = randTensor([1, 1, lk / s, d], 6);
      const v = randTensor([1, 1, lk / s, d], 7), g = randTensor([1, 1, lq / s, d], 8);
      const mm = await matmulRate();
      log(`matmul ${mm.toFixed(2)} GFLOP/s`);
      const flops = (4 * lq * lk * d) / (s * s);
      const fwd = await time(() => tidy(() => void scaledDotProductAttention(q, k, v)), 1);
      for (const t of [q, k, v]) t.requiresGrad = true;
      const both = await time(() =>
        tidy(() => {
          scaledDotProductAttention(q, k, v).backward({ grad: g });
          for (const t of [q, k, v]) {
            t.grad?.dispose();
            t.grad = null;
          }
        }), 1);
      const bwd = Math.max(1e-3, both - fwd);
      for (const t of [q, k, v, g]) t.dispose();
      const fr = flops / fwd / 1e6, br = (2.5 * flops) / bwd / 1e6;
      return [{
        name: `${name}${quick ? " (quick: lengths / 4)" : ""}`,
        metrics: {
          "forward ms": fwd.toFixed(1),
          "forward GFLOP/s": fr.toFixed(2),
          "forward / matmul rate": (fr / mm).toFixed(2),
          "backward ms (2.5x fwd flops)": bwd.toFixed(1),
          "backward GFLOP/s": br.toFixed(2),
          "backward / matmul rate": (br / mm).toFixed(2),
          "matmul 512^3 GFLOP/s (baseline)": mm.toFixed(2),
        },
      }];
    },
  });
}

benchCase({
  family: "attention",
  name: "AdamW step, 10M parameters in 40 tensors",
  async run({ quick }) {
    const per = quick ? 25_000 : 250_000;
    const params = Array.from({ length: 40 }, (_, i) => {
      const p = randTensor([per], 20 + i);
      p.grad = randTensor([per], 100 + i, 0.01);
      return p;
    });
    const opt = new AdamW([{ params, lr: 1e-4, weightDecay: 0.1 }]);
    const ms = await time(() => opt.step(), 3);
    const n = 40 * per;
    const a = randTensor([1 << 22], 3), b = randTensor([1 << 22], 4);
    const addMs = await time(() => tidy(() => void add(a, b)), 3);
    const gbs = (28 * n) / ms / 1e6, addGbs = (12 * (1 << 22)) / addMs / 1e6;
    for (const p of params) {
      p.grad?.dispose();
      p.dispose();
    }
    a.dispose();
    b.dispose();
    return [{
      name: `AdamW ${n / 1e6}M parameters`,
      metrics: {
        "step ms": ms.toFixed(1),
        "GB/s (28 B/param)": gbs.toFixed(2),
        "/ add GB/s (baseline)": (gbs / addGbs).toFixed(2),
      },
    }];
  },
});
