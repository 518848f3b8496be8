import { gpu } from "../../gpu/runtime.ts";
import type { DType } from "../../kernels/dtype.ts";
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
import { Tensor } from "../tensor.ts";

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

/**
 * Elements start, start+step, ... < end along `axis` (a view; Python slice semantics for
 * negative and out-of-range bounds; step > 0).
 */
export function slice(x: Tensor, axis: number, start = 0, end?: number, step = 1): Tensor {
  const a = normAxis(axis, x.rank);
  const d = x.shape[a];
  if (!Number.isInteger(step) || step <= 0) {
    throw new RangeError(`slice(): step ${step} must be > 0`);
  }
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
  const s = norm(start), e = Math.max(norm(end ?? d), s);
  const len = Math.ceil((e - s) / step);
  const shape = [...x.shape];
  shape[a] = len;
  const strides = [...x.strides];
  strides[a] = x.strides[a] * step;
  const inShape = [...x.shape];
  return apply(viewOp, [x], {
    shape,
    strides,
    offset: x.offset + s * x.strides[a],
    back: (g) => {
      const z = runElementwise("fill", "s0", [], { shape: inShape, scalars: [0] });
      runElementwise("copy", "x0", [g], { out: sliceView(z, a, s, len, step) });
      return z;
    },
  });
}

function sliceView(t: Tensor, axis: number, start: number, len: number, step = 1): Tensor {
  const shape = [...t.shape];
  shape[axis] = len;
  const strides = [...t.strides];
  strides[axis] *= step;
  return t.view(shape, strides, t.offset + start * t.strides[axis]);
}

const catOp: OpDef<{ axis: number }> = {
  name: "cat",
  forward(ctx, xs, { axis }) {
    const shape = [...xs[0].shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
    const out = Tensor.empty(shape, xs[0].dtype);
    let at = 0;
    const sizes: number[] = [];
    for (const x of xs) {
      const v = sliceView(out, axis, at, x.shape[axis]);
      if (x.size > 0) runElementwise("copy", "x0", [x], { out: v });
      v.dispose();
      at += x.shape[axis];
      sizes.push(x.shape[axis]);
    }
    ctx.data.sizes = sizes;
    return out;
  },
  backward(ctx, g, { axis }) {
    let at = 0;
    return (ctx.data.sizes as number[]).map((n, i) => {
      const v = ctx.needsGrad[i] ? sliceView(g, axis, at, n) : null;
      at += n;
      return v;
    });
  },
};

/** Concatenates along `axis` (other dims must match). */
export function cat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new RangeError("cat(): no tensors given");
  const a = normAxis(axis, xs[0].rank);
  for (const x of xs) {
    if (x.rank !== xs[0].rank || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new RangeError(
        `cat(): shapes ${xs.map((t) => fmtShape(t.shape)).join(", ")} differ outside axis ${a}`,
      );
    }
    if (x.dtype !== xs[0].dtype) {
      throw new TypeError(`cat(): mixed dtypes ${x.dtype}, ${xs[0].dtype}`);
    }
  }
  return apply(catOp, xs, { axis: a });
}

/** Stacks equal-shaped tensors along a new `axis`. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new RangeError("stack(): no tensors given");
  const a = normAxis(axis, xs[0].rank + 1);
  return cat(xs.map((x) => unsqueeze(x, a)), a);
}

const padOp: OpDef<{ pads: [number, number][]; value: number }> = {
  name: "pad",
  forward(_ctx, [x], { pads, value }) {
    const shape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
    const out = runElementwise("fill", "s0", [], { shape, scalars: [value], outDtype: x.dtype });
    let v = out;
    pads.forEach(([b], i) => {
      const nv = sliceView(v, i, b, x.shape[i]);
      if (v !== out) v.dispose();
      v = nv;
    });
    if (x.size > 0) runElementwise("copy", "x0", [x], { out: v });
    if (v !== out) v.dispose();
    return out;
  },
  backward(_ctx, g, { pads }) {
    let v = g;
    pads.forEach(([b, a], i) => {
      v = sliceView(v, i, b, g.shape[i] - b - a);
    });
    return [v];
  },
};

/**
 * Constant padding in `F.pad` order: `[left, right]` pairs starting from the LAST dim
 * (`[l, r, top, bottom]` pads W then H). Pads must be >= 0.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (
    pads.length % 2 !== 0 || pads.length / 2 > x.rank ||
    pads.some((p) => p < 0 || !Number.isInteger(p))
  ) {
    throw new RangeError(
      `pad(): invalid pads [${pads}] for ${fmtShape(x.shape)} (need >= 0 pairs)`,
    );
  }
  const per: [number, number][] = x.shape.map(() => [0, 0]);
  for (let i = 0; i < pads.length / 2; i++) per[x.rank - 1 - i] = [pads[2 * i], pads[2 * i + 1]];
  return apply(padOp, [x], { pads: per, value });
}

const castOp: OpDef<DType> = {
  name: "cast",
  forward(ctx, [x], dtype) {
    ctx.data.from = x.dtype;
    const conv = dtype === "f16" || dtype === "f32" ? "f32" : dtype;
    return runElementwise(`cast_${dtype}`, `${conv}(x0)`, [x], { outDtype: dtype, shape: x.shape });
  },
  backward(ctx, g) {
    const from: DType = ctx.data.from;
    if (from === "i32" || from === "u32") return [null];
    return [runElementwise(`cast_${from}`, "f32(x0)", [g], { outDtype: from, shape: g.shape })];
  },
};

/** Converts to `dtype` (f32 <-> f16 round to nearest; float -> int truncates toward 0). */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  if ((dtype === "f16" || x.dtype === "f16") && !gpu().hasF16) {
    throw new Error("cast(): f16 needs the WebGPU feature shader-f16, which this adapter lacks");
  }
  return apply(castOp, [x], dtype);
}
