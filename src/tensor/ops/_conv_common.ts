/**
 * What conv2d and conv_transpose2d share: parsing their PyTorch-style options into [h, w]
 * pairs, the bias check, and the op definition. The two ops are adjoint (each one's input
 * gradient is the other's forward), so one op definition serves both, given which raw launch
 * is its forward and which its adjoint.
 */
import { gpu } from "../../gpu/runtime.ts";
import type { ConvShape } from "../../kernels/conv.ts";
import { planChunks, runElementwise } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { fmtShape, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { channelSumRaw, convWeightGradRaw, denseF32 } from "./_conv_launch.ts";
import { copyContiguous } from "./layout.ts";

/** A per-axis [h, w] pair or one number for both. */
export type Pair = number | readonly [number, number];

/** [h, w] from a pair or a number, checked to be integers >= min. */
export function convPair(
  v: Pair | undefined,
  dflt: number,
  what: string,
  min: number,
): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : [
    v[0],
    v[1],
  ];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new RangeError(`${what} must be integers >= ${min}, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** The options conv2d and convTranspose2d both take (PyTorch's keywords). */
export interface ConvGeometryOptions {
  /** @default 1 */
  stride?: Pair;
  /** @default 0 */
  padding?: Pair;
  /** @default 1 */
  dilation?: Pair;
  /** @default 1 */
  groups?: number;
}

/** Stride, padding and dilation as checked [h, w] pairs; groups as given (checked by the op). */
export interface ConvGeometry {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** Parses the shared options of `op` (its name in errors, e.g. "conv2d()"). */
export function convGeometry(op: string, opts: ConvGeometryOptions): ConvGeometry {
  return {
    stride: convPair(opts.stride, 1, `${op}: stride`, 1),
    padding: convPair(opts.padding, 0, `${op}: padding`, 0),
    dilation: convPair(opts.dilation, 1, `${op}: dilation`, 1),
    groups: opts.groups ?? 1,
  };
}

/** Throws unless `bias` is null or a [channels] vector. */
export function checkConvBias(op: string, bias: Tensor | null, channels: number): void {
  if (bias && (bias.rank !== 1 || bias.shape[0] !== channels)) {
    throw new RangeError(`${op}: bias must be [${channels}], got ${fmtShape(bias.shape)}`);
  }
}

/** Whether a storage of `bytes` is above the device's binding limit. */
function tooBig(bytes: number): boolean {
  return bytes > gpu().maxBinding;
}

/**
 * Blocks of batch items (first item, count) such that each block of every tensor in `batched`
 * ([N, ...] dense f32, any offset) fits one binding, planned by `planChunks` (which throws a
 * RangeError naming the op, the tensor and the limit when one item alone does not fit).
 */
function batchBlocks(op: string, n: number, batched: readonly Tensor[]): [number, number][] {
  return planChunks(
    op,
    [n],
    batched.map((t) => {
      const per = t.size / n;
      return { tensor: t, offset: t.offset, strides: [per], inner: per };
    }),
  ).map((c) => [c.start[0], c.shape[0]]);
}

/**
 * Items [n0, n0 + nb) of a dense [N, ...] tensor, for a raw launch: a view when its storage fits
 * one binding (the launch binds it whole and reads the offset), else a contiguous copy (a small
 * storage of its own; the copy itself is split by `runElementwise`).
 */
function batchSlice(t: Tensor, n: number, n0: number, nb: number): Tensor {
  const per = t.size / n;
  const v = t.view([nb, ...t.shape.slice(1)], t.strides, t.offset + n0 * per);
  if (!tooBig(t.storage.bytes)) return v;
  const c = copyContiguous(v);
  v.dispose();
  return c;
}

/**
 * `run(a, s)` for a raw launch whose input `a` and output (`outShape`) are batched along dim 0.
 * The common case (both fit one binding) is one call; otherwise it runs per block of batch
 * items (each block's geometry has its own n) and copies each block's result into its place in
 * the output. Every output element is computed by the same kernel from the same taps, so the
 * result is bitwise the unsplit one.
 */
function perBatch(
  op: string,
  a: Tensor,
  outShape: number[],
  s: ConvShape,
  run: (a: Tensor, s: ConvShape) => Tensor,
): Tensor {
  if (!tooBig(a.storage.bytes) && !tooBig(numel(outShape) * 4)) return run(a, s);
  const out = Tensor.empty(outShape, "f32");
  const per = out.size / s.n;
  for (const [n0, nb] of batchBlocks(op, s.n, [a, out])) {
    const as = batchSlice(a, s.n, n0, nb);
    const ys = run(as, { ...s, n: nb });
    const os = out.view(ys.shape, out.strides, n0 * per);
    runElementwise(`${op}_batch_copy`, "x0", [ys], { out: os });
    [os, ys].forEach((t) => t.dispose());
    if (as !== a) as.dispose();
  }
  return out;
}

/**
 * `run(ts, s)` for a reduction over the batch (weight or bias gradient) of batched inputs `ts`:
 * one call in the common case, else the sum of per-block results (partial sums: the order of
 * additions differs from the unsplit launch).
 */
function sumPerBatch(
  op: string,
  ts: Tensor[],
  s: ConvShape,
  run: (ts: Tensor[], s: ConvShape) => Tensor,
): Tensor {
  if (!ts.some((t) => tooBig(t.storage.bytes))) return run(ts, s);
  let acc: Tensor | null = null;
  for (const [n0, nb] of batchBlocks(op, s.n, ts)) {
    const subs = ts.map((t) => batchSlice(t, s.n, n0, nb));
    const part = run(subs, { ...s, n: nb });
    subs.forEach((t, i) => t !== ts[i] && t.dispose());
    if (!acc) acc = part;
    else {
      runElementwise(`${op}_batch_sum`, "o + x0", [part], { out: acc, readOut: true });
      part.dispose();
    }
  }
  return acc!;
}

/** x-shaped [N, C, H, W] and y-shaped [N, O, OH, OW] of a forward conv's geometry. */
function xShape(s: ConvShape): number[] {
  return [s.n, s.c, s.h, s.w];
}

function yShape(s: ConvShape): number[] {
  return [s.n, s.o, s.oh, s.ow];
}

/** A raw conv launch: dense f32 inputs, the geometry of the forward conv2d. */
type RawConv = (a: Tensor, w: Tensor, bias: Tensor | null, s: ConvShape) => Tensor;

/**
 * The op definition of conv2d (forward = the conv, adjoint = its input-gradient gather) or of
 * conv_transpose2d (the other way round). `ConvShape` is always the geometry of the forward
 * conv2d; `transposed` says whether the op's input plays that conv's output (so the weight
 * gradient takes its arguments the other way round). Inputs, outputs or gradients above the
 * device's binding limit are handled per block of batch items (see `perBatch`, `sumPerBatch`);
 * one item above the limit is a RangeError naming the op, the tensor and the limit.
 */
export function convOpDef(
  name: string,
  forward: RawConv,
  adjoint: RawConv,
  transposed: boolean,
): OpDef<ConvShape> {
  return {
    name,
    forward(ctx, inputs, s) {
      const [x, w, b] = inputs.map((t, i) => denseF32(t, ["input", "weight", "bias"][i]));
      const y = perBatch(
        name,
        x,
        transposed ? xShape(s) : yShape(s),
        s,
        (xs, ss) => forward(xs, w, b ?? null, ss),
      );
      ctx.save(x, w);
      [x, w, b].forEach((t, i) => t && t !== inputs[i] && t.dispose());
      return y;
    },
    backward(ctx, g0, s) {
      const [x, w] = ctx.saved;
      const g = denseF32(g0, "grad");
      const gx = ctx.needsGrad[0]
        ? perBatch(
          name,
          g,
          transposed ? yShape(s) : xShape(s),
          s,
          (gs, ss) => adjoint(gs, w, null, ss),
        )
        : null;
      const gw = ctx.needsGrad[1]
        ? sumPerBatch(
          name,
          [g, x],
          s,
          ([gs, xs], ss) =>
            transposed ? convWeightGradRaw(xs, gs, ss) : convWeightGradRaw(gs, xs, ss),
        )
        : null;
      const gb = ctx.needsGrad[2] ? sumPerBatch(name, [g], s, ([gs]) => channelSumRaw(gs)) : null;
      if (g !== g0) g.dispose();
      return ctx.needsGrad.length === 3 ? [gx, gw, gb] : [gx, gw];
    },
  };
}
