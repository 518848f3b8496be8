import { type BufferArg, gpu } from "../../gpu/runtime.ts";
import { computeType, type DType, dtypeBytes } from "../../kernels/dtype.ts";
import {
  reduceKernel,
  type ReduceOp,
  type ReduceSpec,
  reduceUniforms,
  reduceWorkgroups,
} from "../../kernels/reduce.ts";
import { LANE_MAX_LOOP, laneWorkgroups, reduceFormFor } from "../../kernels/reduce_form.ts";
import { apply, registerTapeOps } from "../autograd.ts";
import { bindingOf, planChunks } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { contiguousStrides, fmtShape, normAxis, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { mapExpr } from "./_map.ts";
import { copyContiguous, expand, reshape } from "./layout.ts";

/** Axes argument: one axis, several, or all (undefined). */
export type Axes = number | readonly number[] | undefined;

/** Options of the reductions. */
export interface ReduceOptions {
  /** Keep reduced dims as size 1. @default false */
  keepdim?: boolean;
}

function normAxes(axes: Axes, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : [...axes];
  return [...new Set(list.map((a) => normAxis(a, rank)))].sort((a, b) => a - b);
}

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => axes.includes(i) ? 1 : d);
}

/**
 * Reduces `axes` of `x` without autograd; returns the keepdim-shaped result. Each maximal block
 * of adjacent reduced axes becomes one [A, R, B] launch (innermost block first).
 */
export function reduceRaw(x: Tensor, axes: readonly number[], op: ReduceOp, mean = false): Tensor {
  if (axes.length === 0) return copyContiguous(x);
  let cur = x.isContiguous ? x : copyContiguous(x);
  let shape = [...x.shape];
  const blocks: [number, number][] = [];
  for (const a of axes) {
    const last = blocks[blocks.length - 1];
    if (last && last[1] === a) last[1] = a + 1;
    else blocks.push([a, a + 1]);
  }
  if ((op === "argmax" || op === "argmin") && blocks.length > 1) {
    throw new RangeError(`${op}: reduces one axis (or adjacent axes), got [${axes}]`);
  }
  for (const [s, e] of blocks.reverse()) {
    const A = numel(shape.slice(0, s)), R = numel(shape.slice(s, e)), B = numel(shape.slice(e));
    const outShape = [...shape.slice(0, s), ...shape.slice(s, e).map(() => 1), ...shape.slice(e)];
    const isArg = op === "argmax" || op === "argmin";
    const out = Tensor.empty(outShape, isArg ? "i32" : cur.dtype === "f16" ? "f32" : cur.dtype);
    if (R === 0 && (op !== "sum")) {
      throw new RangeError(`${op} of an empty axis ${fmtShape(shape)}`);
    }
    const layout = B === 1 ? "row" : "col";
    const limit = gpu().maxBinding;
    if (cur.storage.bytes > limit || out.storage.bytes > limit) {
      reduceSplit(cur, out, [A, R, B], { op, mean, layout });
    } else {
      reduceWhole(op, [cur.dtype, out.dtype], layout, [bindingOf(out), bindingOf(cur)], {
        arb: [A, R, B],
        offsets: [cur.offset, 0],
        scale: mean ? 1 / R : 1,
      });
    }
    if (cur !== x) cur.dispose();
    cur = out;
    shape = outShape;
  }
  return cur;
}

/**
 * Partial results each reduction over R is cut into. Row layout: long rows with few outputs keep
 * many invocations busy through chunks; col layout: runs of R at most COL_MAX_RUN long (the lane
 * form cuts more, see `colRuns`). Both keep every invocation's loop under llvmpipe's cap.
 */
function chunksOf(
  layout: "row" | "col",
  dtype: DType,
  [A, R, B]: [number, number, number],
  inOff: number,
): number {
  if (layout === "row") {
    const busy = A < 256 && R >= 16384 ? Math.min(256, Math.ceil(R / 4096)) : 1;
    return Math.max(busy, Math.ceil(R / (64 * LANE_MAX_LOOP)));
  }
  return laneCols(dtype, B, inOff, 0) ? colRuns(A, R, B) : Math.ceil(R / COL_MAX_RUN);
}

/**
 * A whole [A, R, B] reduction into out (both within their bindings): one launch, or when R is cut
 * into chunks (`chunksOf`) one launch into partial results [A, chunks, B] and one over them (arg
 * ops: partial (value, index) pairs, combined keeping the lowest index on ties and the first
 * NaN).
 */
function reduceWhole(
  op: ReduceOp,
  [dtype, outDtype]: [DType, DType],
  layout: "row" | "col",
  [out, x]: [BufferArg, BufferArg],
  { arb: [A, R, B], offsets: [inOff, outOff], scale, pair }: {
    arb: [number, number, number];
    offsets: [number, number];
    /** Sums: times this (means: 1 / the whole R). */
    scale: number;
    /**
     * Arg ops over a run of a longer R: also write the winning values (at the output's offset)
     * and add `indexOffset` (where the run starts) to the positions.
     */
    pair?: { values: BufferArg; indexOffset: number };
  },
): void {
  const n = R > 1 ? chunksOf(layout, dtype, [A, R, B], inOff) : 1;
  if (n <= 1) {
    launchReduce(op, [dtype, outDtype], layout, [out, x], {
      arb: [A, R, B],
      offsets: [inOff, outOff],
      scale,
      values: pair?.values,
      indexOffset: pair?.indexOffset,
    });
    return;
  }
  const shape = layout === "row" ? [A, n] : [A, n, B];
  const part = Tensor.empty(shape, outDtype);
  if (op === "argmax" || op === "argmin") {
    const vals = Tensor.empty(shape, computeType(dtype));
    launchReduce(op, [dtype, outDtype], layout, [bindingOf(part), x], {
      arb: [A, R, B],
      offsets: [inOff, 0],
      scale: 1,
      chunks: n,
      values: bindingOf(vals),
      indexOffset: pair?.indexOffset,
    });
    launchReduce(op, [vals.dtype, outDtype], layout, [out, bindingOf(vals)], {
      arb: [A, n, B],
      offsets: [0, outOff],
      scale: 1,
      indices: bindingOf(part),
      values: pair?.values,
    });
    vals.dispose();
  } else {
    launchReduce(op, [dtype, outDtype], layout, [bindingOf(part), x], {
      arb: [A, R, B],
      offsets: [inOff, 0],
      scale: 1,
      chunks: n,
    });
    launchReduce(op, [outDtype, outDtype], layout, [out, bindingOf(part)], {
      arb: [A, n, B],
      offsets: [0, outOff],
      scale,
    });
  }
  part.dispose();
}

/** Whether a col-layout reduction runs in the (vec4) lane form on this adapter. */
function laneCols(dtype: DType, B: number, inOff: number, outOff: number): boolean {
  return reduceFormFor(gpu().isCpuAdapter) === "lane" && dtypeBytes(dtype) === 4 &&
    B % 4 === 0 && inOff % 4 === 0 && outOff % 4 === 0;
}

/**
 * Runs of R a lane-form col reduction is cut into: enough invocations (about 512, four columns
 * each) to keep every core busy when A * B is small (bias gradients: [rows, C] summed over
 * rows), runs of at least 64 and at most COL_MAX_RUN.
 */
function colRuns(A: number, R: number, B: number): number {
  const items = (A * B) / 4;
  const wanted = Math.min(Math.ceil(512 / items), Math.floor(R / 64));
  return Math.max(1, Math.ceil(R / COL_MAX_RUN), wanted);
}

/**
 * One reduction launch of x [A, R, B] into out (`chunks` partial results per reduction),
 * in the form the adapter wants (`reduceFormFor`). CPU adapters: the lane form, vec4 where the
 * dtype is 4 bytes wide and the lengths and offsets are multiples of 4; rows whose loop would
 * pass llvmpipe's cap, and col layouts that cannot be read as vec4, keep the workgroup form.
 * Col layouts give each invocation up to 8 vec4s of columns (independent loads per step: lavapipe
 * [32768, 256] summed over rows 1 -> 2 -> 4 -> 8 vec4s ~0.92x -> ~0.92x -> ~1.4x -> ~2.0x an
 * add's GB/s).
 */
function launchReduce(
  op: ReduceOp,
  [dtype, outDtype]: [DType, DType],
  layout: "row" | "col",
  [out, x]: [BufferArg, BufferArg],
  { arb: [A, R, B], offsets: [inOff, outOff], scale, chunks = 1, values, indices, indexOffset = 0 }:
    {
      arb: [number, number, number];
      offsets: [number, number];
      scale: number;
      chunks?: number;
      /** Arg ops: where the winning values go too (`valuesOut`). */
      values?: BufferArg;
      /** Arg ops: the positions beside x's partial values (`indicesIn`). */
      indices?: BufferArg;
      /** Arg ops: added to the positions written (not with `indices`). */
      indexOffset?: number;
    },
): void {
  let spec: ReduceSpec = { op, dtype, outDtype, layout };
  if (values) spec.valuesOut = true;
  if (indices) spec.indicesIn = true;
  let workgroups = reduceWorkgroups(layout, A * chunks, B);
  if (reduceFormFor(gpu().isCpuAdapter) === "lane") {
    if (layout === "row") {
      const vec4 = dtypeBytes(dtype) === 4 && R % 4 === 0 && inOff % 4 === 0;
      if (Math.ceil(R / chunks / (vec4 ? 4 : 1)) + 1 <= LANE_MAX_LOOP) {
        spec = { ...spec, form: "lane", vec4 };
        workgroups = laneWorkgroups(A * chunks);
      }
    } else if (laneCols(dtype, B, inOff, outOff)) {
      const colVecs = [8, 4, 2, 1].find((g) => B % (4 * g) === 0)!;
      spec = { ...spec, form: "lane", vec4: true, colVecs };
      workgroups = laneWorkgroups((A * chunks * B) / 4 / colVecs);
    }
  }
  const buffers = [out, ...(values ? [values] : []), x, ...(indices ? [indices] : [])];
  gpu().launch(reduceKernel(spec), {
    buffers,
    uniforms: reduceUniforms(A, R, B, inOff, outOff, scale, chunks, indexOffset),
    workgroups,
  });
}

/**
 * Longest run of R one column-layout thread reduces. llvmpipe silently stops a shader invocation
 * after 65,535 loop iterations (a sum over 70,000 rows came out as 65,535), and long columns
 * leave few threads busy anyway: longer reductions go through partial results.
 */
const COL_MAX_RUN = 16384;

/**
 * One [A, R, B] reduction whose input or output is above the binding limit: launches over blocks
 * of rows A (whole reductions, `reduceWhole`) where that is enough; otherwise over runs of R
 * (the binding windows) into partial results [A, runs, B] that a second reduction combines (sum,
 * max, min; mean scales at the end; argmax/argmin: (value, position) pairs, combined keeping the
 * lowest position on ties and the first NaN). Each run is itself a whole reduction, cut into
 * chunks where a loop would pass llvmpipe's cap.
 */
function reduceSplit(
  cur: Tensor,
  out: Tensor,
  [A, R, B]: [number, number, number],
  { op, mean, layout }: { op: ReduceOp; mean: boolean; layout: "row" | "col" },
): void {
  const dt: [DType, DType] = [cur.dtype, out.dtype];
  const plan = planChunks(op, [A, R], [
    { tensor: cur, offset: cur.offset, strides: [R * B, B], inner: B },
    { tensor: out, offset: out.offset, strides: [B, 0], inner: B },
  ]);
  if (plan.every((c) => c.shape[1] === R)) {
    for (const c of plan) {
      reduceWhole(op, dt, layout, [c.bindings[1], c.bindings[0]], {
        arb: [c.shape[0], R, B],
        offsets: [c.offsets[0], c.offsets[1]],
        scale: mean ? 1 / R : 1,
      });
    }
    return;
  }
  // The runs of R every row a is cut into: the plan's ranges (the same for every a).
  const runs: [number, number][] = [];
  for (const c of plan) {
    if (c.start[0] !== plan[0].start[0]) break;
    runs.push([c.start[1], c.shape[1]]);
  }
  const isArg = op === "argmax" || op === "argmin";
  const part = Tensor.empty([A, runs.length, B], out.dtype);
  const partBinding = bindingOf(part);
  // Arg ops: (value, position) pairs per run, combined in run order below.
  const vals = isArg ? Tensor.empty([A, runs.length, B], computeType(cur.dtype)) : null;
  const valsBinding = vals ? bindingOf(vals) : undefined;
  let next = 0; // index in `runs` of the first run inside the current chunk
  for (const c of plan) {
    if (c.start[1] === 0) next = 0;
    const first = next;
    while (next < runs.length && runs[next][0] < c.start[1] + c.shape[1]) next++;
    for (let a = c.start[0]; a < c.start[0] + c.shape[0]; a++) {
      for (let q = first; q < next; q++) {
        const [r, len] = runs[q];
        const inOff = c.offsets[0] + (a - c.start[0]) * R * B + (r - c.start[1]) * B;
        reduceWhole(op, dt, layout, [partBinding, c.bindings[0]], {
          arb: [1, len, B],
          offsets: [inOff, (a * runs.length + q) * B],
          scale: 1,
          pair: valsBinding && { values: valsBinding, indexOffset: r },
        });
      }
    }
  }
  if (vals && valsBinding) {
    launchReduce(op, [vals.dtype, out.dtype], layout, [bindingOf(out), valsBinding], {
      arb: [A, runs.length, B],
      offsets: [0, out.offset],
      scale: 1,
      indices: partBinding,
    });
    vals.dispose();
  } else {
    reduceWhole(op, [out.dtype, out.dtype], layout, [bindingOf(out), partBinding], {
      arb: [A, runs.length, B],
      offsets: [0, out.offset],
      scale: mean ? 1 / R : 1,
    });
  }
  part.dispose();
}

interface ReduceAttrs {
  axes: number[];
  keepdim: boolean;
}

function finish(y: Tensor, x: Tensor, { axes, keepdim }: ReduceAttrs): Tensor {
  if (keepdim) return y;
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  return y.view(shape, y.strides.filter((_, i) => !axes.includes(i)), y.offset);
}

/** Gradient of a reduction broadcast back to the input shape. */
function spread(g: Tensor, inShape: readonly number[], axes: readonly number[]): Tensor {
  return expand(reshape(g, keptShape(inShape, axes)), inShape);
}

const sumOp: OpDef<ReduceAttrs & { mean: boolean }> = {
  name: "sum",
  forward(ctx, [x], a) {
    ctx.data.shape = [...x.shape];
    const y = reduceRaw(x, a.axes, "sum", a.mean);
    const r = finish(y, x, a);
    if (r !== y) y.dispose();
    return r;
  },
  backward(ctx, g, a) {
    const shape: number[] = ctx.data.shape;
    if (!a.mean) return [spread(g, shape, a.axes)];
    const n = numel(a.axes.map((i) => shape[i]));
    return [spread(mapExpr("{g} * {s}", { g, s: 1 / n }, { name: "mean_grad" }), shape, a.axes)];
  },
};

/** Sum over `axes` (all when omitted). */
export function sum(x: Tensor, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  return apply(sumOp, [x], { axes: normAxes(axes, x.rank), keepdim: !!opts.keepdim, mean: false });
}

/** Mean over `axes` (all when omitted). */
export function mean(x: Tensor, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  return apply(sumOp, [x], { axes: normAxes(axes, x.rank), keepdim: !!opts.keepdim, mean: true });
}

const maxOp: OpDef<ReduceAttrs & { op: "max" | "min" }> = {
  name: "max",
  forward(ctx, [x], a) {
    const y = reduceRaw(x, a.axes, a.op);
    ctx.save(x, y);
    const r = finish(y, x, a);
    if (r !== y) y.dispose();
    return r;
  },
  backward(ctx, g, a) {
    // Ties share the gradient evenly (PyTorch's amax/amin rule).
    const [x, y] = ctx.saved;
    const mask = mapExpr("select(0.0, 1.0, {x} == {y})", { x, y }, { name: "max_mask" });
    const count = reduceRaw(mask, a.axes, "sum");
    const gk = reshape(g, keptShape(x.shape, a.axes));
    return [mapExpr("{m} * {g} / {c}", { m: mask, g: gk, c: count }, { name: "max_grad" })];
  },
};

/** Maximum over `axes` (like `amax`; ties share the gradient). */
export function max(x: Tensor, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  return apply(maxOp, [x], { axes: normAxes(axes, x.rank), keepdim: !!opts.keepdim, op: "max" });
}

/** Minimum over `axes` (like `amin`). */
export function min(x: Tensor, axes?: Axes, opts: ReduceOptions = {}): Tensor {
  return apply(maxOp, [x], { axes: normAxes(axes, x.rank), keepdim: !!opts.keepdim, op: "min" });
}

/** Index (i32) of the maximum along `axis` (first on ties); flattened when axis is omitted. */
export function argmax(x: Tensor, axis?: number, opts: ReduceOptions = {}): Tensor {
  return argReduce(x, axis, "argmax", opts);
}

/** Index (i32) of the minimum along `axis` (first on ties). */
export function argmin(x: Tensor, axis?: number, opts: ReduceOptions = {}): Tensor {
  return argReduce(x, axis, "argmin", opts);
}

function argReduce(x: Tensor, axis: number | undefined, op: ReduceOp, opts: ReduceOptions): Tensor {
  if (axis === undefined) {
    const flat = x.isContiguous ? x.view([x.size], [1], x.offset) : reshape(x, [x.size]);
    const y = reduceRaw(flat, [0], op);
    return opts.keepdim ? y.view(x.shape.map(() => 1), x.shape.map(() => 1), 0) : y.view([], [], 0);
  }
  const a = normAxis(axis, x.rank);
  const y = reduceRaw(x, [a], op);
  return finish(y, x, { axes: [a], keepdim: !!opts.keepdim });
}

/** Options of `variance`. */
export interface VarOptions extends ReduceOptions {
  /** Subtracted from the count (1 = unbiased, PyTorch's default; 0 = biased). @default 1 */
  correction?: number;
}

/** Variance over `axes` (composite: mean, square, sum; differentiable). */
export function variance(x: Tensor, axes?: Axes, opts: VarOptions = {}): Tensor {
  const ax = normAxes(axes, x.rank);
  const n = numel(ax.map((i) => x.shape[i]));
  const m = mean(x, ax, { keepdim: true });
  const d = apply(diffSqOp, [x, m], undefined);
  const s = sum(d, ax, { keepdim: opts.keepdim });
  return apply(scaleOp, [s], 1 / Math.max(n - (opts.correction ?? 1), 0));
}

const diffSqOp: OpDef = {
  name: "diff_sq",
  forward(ctx, [x, m]) {
    ctx.save(x, m);
    return mapExpr("({x} - {m}) * ({x} - {m})", { x, m }, { name: "diff_sq" });
  },
  backward(ctx, g) {
    const [x, m] = ctx.saved;
    const gx = mapExpr("2.0 * {g} * ({x} - {m})", { g, x, m }, { name: "diff_sq_grad" });
    return [gx, ctx.needsGrad[1] ? mapExpr("-{g}", { g: gx }, { name: "neg" }) : null];
  },
};

const scaleOp: OpDef<number> = {
  name: "scale",
  forward: (_ctx, [x], s) => mapExpr("{x} * {s}", { x, s }, { name: "scale" }),
  backward: (_ctx, g, s) => [mapExpr("{g} * {s}", { g, s }, { name: "scale" })],
};

/** Sums a broadcast gradient down to `shape` (the tape's un-broadcast step). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  const lead = g.rank - shape.length;
  if (lead < 0) throw new RangeError(`sumToShape: ${fmtShape(g.shape)} to ${fmtShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const y = reduceRaw(g, axes, "sum");
  return y.view(shape, contiguousStrides(shape), y.offset);
}

registerTapeOps({ sumToShape });
