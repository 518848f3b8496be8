import { apply } from "../autograd.ts";
import { runElementwise } from "../launch.ts";
import type { OpDef } from "../op.ts";
import {
  broadcastShapes,
  contiguousStrides,
  fmtShape,
  normAxis,
  numel,
  sameShape,
} from "../shape.ts";
import type { Tensor } from "../tensor.ts";

/** A contiguous copy of any strided view (no autograd; ops call it on their inputs). */
export function copyContiguous(x: Tensor): Tensor {
  return runElementwise("copy", "x0", [x], { shape: x.shape });
}

const contiguousOp: OpDef = {
  name: "contiguous",
  forward: (_ctx, [x]) => copyContiguous(x),
  backward: (_ctx, g) => [g],
};

/** `x` itself if contiguous, else a contiguous copy (differentiable). */
export function contiguous(x: Tensor): Tensor {
  return x.isContiguous ? x : apply(contiguousOp, [x], undefined);
}

/** Always a fresh contiguous copy (differentiable). */
export function clone(x: Tensor): Tensor {
  return apply(contiguousOp, [x], undefined);
}

function resolveShape(shape: readonly number[], n: number, from: readonly number[]): number[] {
  const out = [...shape];
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(out.filter((_, i) => i !== neg));
    out[neg] = rest === 0 ? 0 : n / rest;
  }
  if (numel(out) !== n || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new RangeError(`reshape(): cannot view ${fmtShape(from)} as ${fmtShape(shape)}`);
  }
  return out;
}

const viewOp: OpDef<
  { shape: number[]; strides: number[]; offset: number; back: (g: Tensor) => Tensor }
> = {
  name: "view",
  forward: (_ctx, [x], a) => x.view(a.shape, a.strides, a.offset),
  backward: (_ctx, g, a) => [a.back(g)],
};

/** Same data in another shape (`-1` infers one dim); copies only if `x` is not contiguous. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = resolveShape(shape, x.size, x.shape);
  if (sameShape(s, x.shape)) return x;
  const src = contiguous(x);
  const inShape = [...x.shape];
  return apply(viewOp, [src], {
    shape: s,
    strides: contiguousStrides(s),
    offset: src.offset,
    back: (g) => reshape(g, inShape),
  });
}

/** Reorders dims (a view). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.rank) {
    throw new RangeError(`permute(): ${dims.length} dims given for rank ${x.rank}`);
  }
  const d = dims.map((v) => normAxis(v, x.rank, "permute dim"));
  if (new Set(d).size !== d.length) throw new RangeError(`permute(): repeated dims [${dims}]`);
  const inv = new Array<number>(d.length);
  d.forEach((v, i) => inv[v] = i);
  return apply(viewOp, [x], {
    shape: d.map((i) => x.shape[i]),
    strides: d.map((i) => x.strides[i]),
    offset: x.offset,
    back: (g) => permute(g, inv),
  });
}

/** Swaps two dims (a view). */
export function transpose(x: Tensor, d0 = -2, d1 = -1): Tensor {
  const a = normAxis(d0, x.rank), b = normAxis(d1, x.rank);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** Broadcasts to `shape` (a view with stride 0; -1 keeps a dim). Gradients sum back. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const s = shape.map((d, i) => d === -1 ? x.shape[i - (shape.length - x.rank)] : d);
  const target = broadcastShapes(x.shape, s);
  if (!sameShape(target, s)) {
    throw new RangeError(`expand(): cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  if (sameShape(s, x.shape)) return x;
  const strides = s.map((d, j) => {
    const i = j - (s.length - x.rank);
    return i < 0 || (x.shape[i] === 1 && d !== 1) ? 0 : x.strides[i];
  });
  // The tape sums the broadcast gradient down to x's shape.
  return apply(viewOp, [x], { shape: s, strides, offset: x.offset, back: (g) => g });
}

/** Inserts a size-1 dim at `axis` (a view). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  const strides = [...x.strides];
  strides.splice(a, 0, a < x.rank ? x.strides[a] * x.shape[a] : 1);
  return apply(viewOp, [x], { shape, strides, offset: x.offset, back: (g) => reshape(g, x.shape) });
}

/** Removes size-1 dims (all, or the given ones) (a view). */
export function squeeze(x: Tensor, axes?: readonly number[]): Tensor {
  const drop = new Set(
    axes ? axes.map((a) => normAxis(a, x.rank)) : x.shape.flatMap((d, i) => d === 1 ? [i] : []),
  );
  for (const a of drop) {
    if (x.shape[a] !== 1) {
      throw new RangeError(`squeeze(): dim ${a} of ${fmtShape(x.shape)} is not 1`);
    }
  }
  const keepIdx = x.shape.map((_, i) => i).filter((i) => !drop.has(i));
  const inShape = [...x.shape];
  return apply(viewOp, [x], {
    shape: keepIdx.map((i) => x.shape[i]),
    strides: keepIdx.map((i) => x.strides[i]),
    offset: x.offset,
    back: (g) => reshape(g, inShape),
  });
}

/** Flattens dims start..end (inclusive) into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis(start, x.rank), e = normAxis(end, x.rank);
  return reshape(x, [
    ...x.shape.slice(0, s),
    numel(x.shape.slice(s, e + 1)),
    ...x.shape.slice(e + 1),
  ]);
}
