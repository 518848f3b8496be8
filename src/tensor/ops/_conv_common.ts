/**
 * What conv2d and conv_transpose2d share: parsing their PyTorch-style options into [h, w]
 * pairs, the bias check, and the op definition. The two ops are adjoint (each one's input
 * gradient is the other's forward), so one op definition serves both, given which raw launch
 * is its forward and which its adjoint.
 */
import type { ConvShape } from "../../kernels/conv.ts";
import type { OpDef } from "../op.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { channelSumRaw, convWeightGradRaw, denseF32 } from "./_conv_launch.ts";

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

/** A raw conv launch: dense f32 inputs, the geometry of the forward conv2d. */
type RawConv = (a: Tensor, w: Tensor, bias: Tensor | null, s: ConvShape) => Tensor;

/**
 * The op definition of conv2d (forward = the conv, adjoint = its input-gradient gather) or of
 * conv_transpose2d (the other way round). `ConvShape` is always the geometry of the forward
 * conv2d; `transposed` says whether the op's input plays that conv's output (so the weight
 * gradient takes its arguments the other way round).
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
      const y = forward(x, w, b ?? null, s);
      ctx.save(x, w);
      [x, w, b].forEach((t, i) => t && t !== inputs[i] && t.dispose());
      return y;
    },
    backward(ctx, g0, s) {
      const [x, w] = ctx.saved;
      const g = denseF32(g0, "grad");
      const gx = ctx.needsGrad[0] ? adjoint(g, w, null, s) : null;
      const gw = ctx.needsGrad[1]
        ? (transposed ? convWeightGradRaw(x, g, s) : convWeightGradRaw(g, x, s))
        : null;
      const gb = ctx.needsGrad[2] ? channelSumRaw(g) : null;
      if (g !== g0) g.dispose();
      return ctx.needsGrad.length === 3 ? [gx, gw, gb] : [gx, gw];
    },
  };
}
