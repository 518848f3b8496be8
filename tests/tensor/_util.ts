import { assertAllClose } from "../assert.ts";
import { gpu, initGpu } from "../../src/gpu/mod.ts";
import { gcReleasedBytes, mul, sum, type Tensor, tensor, tidy } from "../../src/tensor/mod.ts";
import { map, type Nd, nd } from "../reference/ndarray.ts";

export { initGpu };

/** Deterministic pseudo-random numbers in [lo, hi) (mulberry32). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** One case of `checkOp`. */
export interface OpCase {
  /** Label in failure messages. */
  name: string;
  /** Input shapes. */
  shapes: number[][];
  /** The op on GPU tensors. */
  gpu: (xs: Tensor[]) => Tensor;
  /** The float64 reference forward. */
  ref: (xs: Nd[]) => Nd;
  /** Forward tolerance. @default 1e-5 */
  atol?: number;
  /** @default 1e-4 */
  rtol?: number;
  /** Gradient tolerance (against finite differences of the reference). @default 1e-3 */
  gradAtol?: number;
  /** @default 1e-3 */
  gradRtol?: number;
  /** Input value range. @default [-1, 1] */
  range?: [number, number];
  /** Inputs that get no gradient check (indices). @default [] */
  noGrad?: number[];
  /** Skip backward entirely. @default false */
  forwardOnly?: boolean;
  /** Custom input values per input (overrides random). */
  values?: (Float32Array | undefined)[];
  seed?: number;
}

/**
 * Checks an op: forward against the float64 reference, and backward (of sum(y * w) with random
 * w) against central finite differences of the float64 reference (h = 1e-6, exact to ~1e-9).
 */
export async function checkOp(c: OpCase): Promise<void> {
  const seed = c.seed ?? 1234;
  const [lo, hi] = c.range ?? [-1, 1];
  const vals = c.shapes.map((s, i) => c.values?.[i] ?? randomArray(size(s), seed + 17 * i, lo, hi));
  const gradIdx = c.forwardOnly
    ? []
    : c.shapes.map((_, i) => i).filter((i) => !c.noGrad?.includes(i));
  const xs64 = vals.map((v, i) => nd(v, c.shapes[i]));
  const y64 = c.ref(xs64);
  const w = randomArray(y64.data.length, seed + 99, 0.5, 1.5);
  const w64 = nd(w, y64.shape);
  const { y, grads } = tidy(() => {
    const xs = vals.map((v, i) => tensor(v, c.shapes[i], { requiresGrad: gradIdx.includes(i) }));
    const y = c.gpu(xs);
    if (gradIdx.length > 0) {
      const loss = sum(mul(y, tensor(w, y.shape)));
      loss.backward();
    }
    return { y, grads: xs.map((x) => x.grad), xs };
  });
  const yArr = await y.toArray();
  if (y.shape.join() !== y64.shape.join()) {
    throw new Error(`${c.name}: shape mismatch: ours=[${y.shape}] | ref=[${y64.shape}]`);
  }
  assertAllClose(yArr, y64.data, {
    atol: c.atol ?? 1e-5,
    rtol: c.rtol ?? 1e-4,
    msg: `${c.name} forward`,
  });
  for (const i of gradIdx) {
    const g = grads[i];
    if (!g) throw new Error(`${c.name}: input ${i} got no gradient`);
    const ours = await g.toArray();
    const fd = new Float64Array(vals[i].length);
    const h = 1e-6;
    const L = (xsx: Nd[]) => {
      const yy = c.ref(xsx);
      return map((a, b) => a * b, yy, w64).data.reduce((s, v) => s + v, 0);
    };
    for (let j = 0; j < fd.length; j++) {
      const xp = xs64.map((x) => ({ shape: x.shape, data: Float64Array.from(x.data) }));
      xp[i].data[j] += h;
      const lp = L(xp);
      xp[i].data[j] -= 2 * h;
      const lm = L(xp);
      fd[j] = (lp - lm) / (2 * h);
    }
    assertAllClose(ours, fd, {
      atol: c.gradAtol ?? 1e-3,
      rtol: c.gradRtol ?? 1e-3,
      msg: `${c.name} grad[${i}]`,
    });
    g.dispose();
  }
  y.dispose();
}

/**
 * Live pool bytes plus what the garbage collector released from undisposed tensors (of earlier
 * tests, say) so far: a before/after comparison of this is exact whenever the collector runs.
 */
export function accountedLiveBytes(): number {
  return gpu().pool.stats().liveBytes + gcReleasedBytes();
}
