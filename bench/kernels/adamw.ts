/**
 * AdamW step cases: the per-tensor step (one dispatch per parameter) against the multi-tensor
 * step (flat m/v; "gather": parameters and gradients copied into flat scratch, one dispatch per
 * flat buffer; "bind": up to 16 parameters bound per dispatch; the adapter's default mode is the
 * "multi-tensor" figure) over 10M parameters split into 40 and into
 * 500 tensors, each as ms and GB/s (28 bytes per parameter: p, g, m, v read, p, m, v written) and
 * as a ratio to an elementwise add moving the same bytes, timed round-robin in the same run.
 * On a CPU adapter (lavapipe runs in this process) times are process CPU time, which other
 * processes' load disturbs less than wall time; wall time is reported beside it.
 */
import process from "node:process";
import { gpu } from "../../src/gpu/mod.ts";
import { add, type Tensor, tensor, tidy } from "../../src/tensor/mod.ts";
import { keep } from "../../src/tensor/scope.ts";
import { AdamW } from "../../src/train/optim/adamw.ts";
import { rand } from "./_timing.ts";
import { benchCase, type BenchContext, type BenchResult } from "./_registry.ts";

const PARAMS = 10_000_000;
const BYTES_PER_PARAM = 28;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Best (CPU, wall) ms per call of each function over `trials` round-robin rounds. */
async function timeBoth(fns: (() => void)[], trials: number): Promise<[number, number][]> {
  for (const f of fns) tidy(f); // warm-up: compiles, first-step state allocation
  await gpu().sync();
  const best = fns.map((): [number, number] => [Infinity, Infinity]);
  for (let t = 0; t < trials; t++) {
    for (const [i, f] of fns.entries()) {
      const c = cpuMs(), w = performance.now();
      tidy(f);
      await gpu().sync();
      best[i] = [Math.min(best[i][0], cpuMs() - c), Math.min(best[i][1], performance.now() - w)];
    }
  }
  return best;
}

/** `count` parameters (sizes differing a little, summing to PARAMS), each with a gradient. */
function makeParams(count: number): Tensor[] {
  const sizes = Array.from({ length: count }, (_, i) => Math.floor(PARAMS / count) + (i % 7) - 3);
  sizes[count - 1] += PARAMS - sizes.reduce((a, b) => a + b, 0);
  return sizes.map((n, i) => {
    const p = keep(tensor(rand(n, 1 + i), [n]));
    p.grad = keep(tensor(rand(n, 10_000 + i).map((x) => x * 0.01), [n]));
    return p;
  });
}

async function runCase(count: number, ctx: BenchContext): Promise<BenchResult> {
  const params = makeParams(count);
  const perTensor = new AdamW([{ params, lr: 1e-4, weightDecay: 0.1 }], { multiTensor: false });
  const gather = new AdamW([{ params, lr: 1e-4, weightDecay: 0.1 }], {
    multiTensorMode: "gather",
  });
  const bind = new AdamW([{ params, lr: 1e-4, weightDecay: 0.1 }], { multiTensorMode: "bind" });
  const multi = gpu().isCpuAdapter ? gather : bind; // the default mode on this adapter
  // The add moves the same bytes: 12 per element (two reads, one write).
  const nAdd = Math.round((PARAMS * BYTES_PER_PARAM) / 12);
  const a = keep(tensor(rand(nAdd, 7), [nAdd])), b = keep(tensor(rand(nAdd, 8), [nAdd]));
  const trials = ctx.quick ? 3 : 7;
  ctx.log(`adamw ${count} tensors: ${trials} trials`);
  const [tPer, tGather, tBind, tAdd] = await timeBoth([
    () => perTensor.step(),
    () => gather.step(),
    () => bind.step(),
    () => void add(a, b),
  ], trials);
  const tMulti = multi === gather ? tGather : tBind;
  const cpu = gpu().isCpuAdapter;
  const ms = (t: [number, number]) => cpu ? t[0] : t[1];
  const gbs = (t: [number, number]) => (PARAMS * BYTES_PER_PARAM) / ms(t) / 1e6;
  for (const p of params) {
    p.grad?.dispose();
    p.dispose();
  }
  a.dispose();
  b.dispose();
  const r = (x: number) => Number(x.toFixed(3));
  return {
    name: `adamw ${PARAMS / 1e6}M params (${count} tensors)`,
    metrics: {
      timing: cpu ? "process CPU ms (lavapipe runs in-process)" : "wall ms",
      "per-tensor ms": r(ms(tPer)),
      "default multi-tensor mode": multi.multiTensorMode,
      "multi-tensor ms": r(ms(tMulti)),
      "multi-tensor gather / bind ms": `${r(ms(tGather))} / ${r(ms(tBind))}`,
      "add same bytes ms": r(ms(tAdd)),
      "per-tensor GB/s": r(gbs(tPer)),
      "multi-tensor GB/s": r(gbs(tMulti)),
      "add GB/s": r(gbs(tAdd)),
      "multi-tensor speedup (per/multi)": r(ms(tPer) / ms(tMulti)),
      "per-tensor / add time": r(ms(tPer) / ms(tAdd)),
      "multi-tensor / add time": r(ms(tMulti) / ms(tAdd)),
      "wall ms per / gather / bind / add": [tPer, tGather, tBind, tAdd]
        .map((t) => t[1].toFixed(1)).join(" / "),
    },
  };
}

for (const count of [40, 500]) {
  benchCase({
    family: "adamw",
    name: `adamw 10M params in ${count} tensors`,
    run: async (ctx) => [await runCase(count, ctx)],
  });
}
