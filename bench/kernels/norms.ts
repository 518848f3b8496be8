/**
 * Norms family for `deno task bench kernels --only norms`: the bandwidth-bound row kernels
 * (layer norm forward / backward over [32768, 256] like a Hiera stage-2 block's tokens, softmax
 * over attention-score rows, SAM 2's channels-first LayerNorm2d at the decoder's [1, 256, 64, 64],
 * sums over the last dim and over rows), each as GB/s of its compulsory traffic (every input read
 * once, every output written once) and as the ratio to an elementwise add moving the same bytes,
 * timed round-robin in the same run. On a CPU adapter (lavapipe runs in this process) times are
 * process CPU time / cores, minimum over trials (wall time is noise on a shared machine), and
 * every case is also timed in the GPU's workgroup form (`workgroup_form_*`: the kernels as they
 * were before the CPU-adapter lane form) in the same round robin.
 *
 * Softmax shapes: SAM 2's attention is fused (no score matrix), so standalone softmax runs on
 * score-like rows only in unfused paths; [32768, 512] is a memory-attention-like row (4096 queries
 * x 8 heads over 512 keys), [131072, 64] a Hiera window (8x8 = 64 tokens per window).
 *
 * The fwd+bwd cases run through autograd, which also copies the leaf's gradient into `.grad`
 * (one more read and write of [rows, cols] that is timed but not counted in the bytes).
 *
 * `--case <text>` runs only the cases whose name contains the text.
 */
import process from "node:process";
import { gpu } from "../../src/gpu/mod.ts";
import { forceReduceForm } from "../../src/kernels/reduce_form.ts";
import {
  add,
  backward,
  layerNorm,
  layerNorm2d,
  noGrad,
  softmax,
  sum,
  type Tensor,
  tidy,
} from "../../src/tensor/mod.ts";
import { randTensor } from "./_attention_inputs.ts";
import { benchCase, type BenchResult } from "./_registry.ts";

const CORES = navigator.hardwareConcurrency || 2;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Seconds per call of each function: one warm-up (compiles), then trials round-robin (a burst of
 * load hits all alike); CPU time / cores on a CPU adapter, else wall time; minimum over trials.
 */
async function timeRoundRobin(fns: (() => void)[], trials: number): Promise<number[]> {
  for (const f of fns) tidy(f);
  await gpu().sync();
  const best = fns.map(() => Infinity);
  for (let t = 0; t < trials; t++) {
    for (const [i, f] of fns.entries()) {
      const w = performance.now(), c = cpuMs();
      tidy(f);
      await gpu().sync();
      const ms = gpu().isCpuAdapter ? (cpuMs() - c) / CORES : performance.now() - w;
      best[i] = Math.min(best[i], ms / 1000);
    }
  }
  return best;
}

interface Case {
  name: string;
  /** Compulsory bytes moved. */
  bytes: number;
  /** Inputs, made once. */
  setup: () => Tensor[];
  run: (ins: Tensor[]) => void;
}

const F = 4;

/** fwd+bwd through autograd: x (and w, b when `params`) get gradients; g is the output grad. */
function lnBackward(params: boolean) {
  return ([x, w, b, g]: Tensor[]) => {
    const xr = x.alias();
    xr.requiresGrad = true;
    const wr = w.alias(), br = b.alias();
    wr.requiresGrad = params;
    br.requiresGrad = params;
    backward(layerNorm(xr, wr, br, { eps: 1e-6 }), { grad: g });
    for (const t of [xr, wr, br]) t.grad?.dispose();
  };
}

const R = 32768, C = 256, N = R * C;
const cases: Case[] = [
  {
    name: "layer norm fwd [32768,256]",
    bytes: 2 * N * F,
    setup: () => [randTensor([R, C], 1), randTensor([C], 2), randTensor([C], 3)],
    run: ([x, w, b]) => void noGrad(() => layerNorm(x, w, b, { eps: 1e-6 })),
  },
  {
    // fwd (x -> y) + dx (g, x -> dx): 5 passes over [R, C]
    name: "layer norm fwd+bwd dx only [32768,256]",
    bytes: 5 * N * F,
    setup:
      () => [randTensor([R, C], 1), randTensor([C], 2), randTensor([C], 3), randTensor([R, C], 4)],
    run: lnBackward(false),
  },
  {
    // + weight/bias gradients (column sums of g * xhat and g; read g, x once more in theory)
    name: "layer norm fwd+bwd dx,dw,db [32768,256]",
    bytes: 5 * N * F,
    setup:
      () => [randTensor([R, C], 1), randTensor([C], 2), randTensor([C], 3), randTensor([R, C], 4)],
    run: lnBackward(true),
  },
  {
    name: "softmax [32768,512] (4096 queries x 8 heads, 512 keys)",
    bytes: 2 * 32768 * 512 * F,
    setup: () => [randTensor([32768, 512], 5, 8)],
    run: ([x]) => void noGrad(() => softmax(x)),
  },
  {
    name: "softmax [131072,64] (Hiera 8x8 windows)",
    bytes: 2 * 131072 * 64 * F,
    setup: () => [randTensor([131072, 64], 6, 8)],
    run: ([x]) => void noGrad(() => softmax(x)),
  },
  {
    name: "softmax fwd+bwd [32768,512]",
    bytes: 5 * 32768 * 512 * F,
    setup: () => [randTensor([32768, 512], 5, 8), randTensor([32768, 512], 7)],
    run: ([x, g]) => {
      const xr = x.alias();
      xr.requiresGrad = true;
      backward(softmax(xr), { grad: g });
      xr.grad?.dispose();
    },
  },
  {
    name: "layerNorm2d fwd [1,256,64,64]",
    bytes: 2 * 256 * 4096 * F,
    setup: () => [randTensor([1, 256, 64, 64], 8), randTensor([256], 2), randTensor([256], 3)],
    run: ([x, w, b]) => void noGrad(() => layerNorm2d(x, w, b)),
  },
  {
    name: "layerNorm2d fwd+bwd [1,256,64,64]",
    bytes: 5 * 256 * 4096 * F,
    setup: () => [
      randTensor([1, 256, 64, 64], 8),
      randTensor([256], 2),
      randTensor([256], 3),
      randTensor([1, 256, 64, 64], 9),
    ],
    run: ([x, w, b, g]) => {
      const [xr, wr, br] = [x, w, b].map((t) => t.alias());
      for (const t of [xr, wr, br]) t.requiresGrad = true;
      backward(layerNorm2d(xr, wr, br), { grad: g });
      for (const t of [xr, wr, br]) t.grad?.dispose();
    },
  },
  {
    name: "sum last dim [32768,256]",
    bytes: N * F,
    setup: () => [randTensor([R, C], 10)],
    run: ([x]) => void noGrad(() => sum(x, -1)),
  },
  {
    name: "sum last dim [128,65536] (per-mask loss sums)",
    bytes: N * F,
    setup: () => [randTensor([128, 65536], 11)],
    run: ([x]) => void noGrad(() => sum(x, -1)),
  },
  {
    name: "sum over rows [32768,256] (bias gradient)",
    bytes: N * F,
    setup: () => [randTensor([R, C], 12)],
    run: ([x]) => void noGrad(() => sum(x, 0)),
  },
];

benchCase({
  family: "norms",
  name: "norms, softmax, reductions",
  async run(ctx) {
    const trials = ctx.quick ? 2 : 5;
    const out: BenchResult[] = [];
    const only = Deno.args.includes("--case") ? Deno.args[Deno.args.indexOf("--case") + 1] : "";
    for (const c of cases.filter((c) => c.name.includes(only))) {
      ctx.log(c.name);
      const ins = c.setup();
      // Baseline: an elementwise add (reads 2, writes 1) moving the same bytes.
      const addN = Math.max(4, Math.round(c.bytes / 12 / 4) * 4);
      const a = randTensor([addN], 20), b = randTensor([addN], 21);
      // On a CPU adapter also the GPU's workgroup form (the kernels before the lane form).
      const other = gpu().isCpuAdapter
        ? [() => {
          forceReduceForm("workgroup");
          try {
            c.run(ins);
          } finally {
            forceReduceForm(null);
          }
        }]
        : [];
      const [t, ta, tw] = await timeRoundRobin(
        [() => c.run(ins), () => void add(a, b), ...other],
        trials,
      );
      const rate = c.bytes / t / 1e9, addRate = (12 * addN) / ta / 1e9;
      const metrics: BenchResult["metrics"] = {
        ms: +(t * 1e3).toFixed(2),
        gbps: +rate.toFixed(3),
        add_gbps: +addRate.toFixed(3),
        over_add_rate: +(rate / addRate).toFixed(2),
      };
      if (tw !== undefined) {
        metrics.workgroup_form_ms = +(tw * 1e3).toFixed(2);
        metrics.workgroup_form_over_add_rate = +((c.bytes / tw / 1e9) / addRate).toFixed(2);
      }
      out.push({ name: c.name, metrics });
      [...ins, a, b].forEach((x) => x.dispose());
    }
    return out;
  },
});
