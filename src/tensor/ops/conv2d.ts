import type { ConvShape } from "../../kernels/conv.ts";
import { apply } from "../autograd.ts";
import type { OpDef } from "../op.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import {
  channelSumRaw,
  convForwardRaw,
  convInputGradRaw,
  convWeightGradRaw,
  denseF32,
} from "./_conv_launch.ts";

/** A per-axis [h, w] pair or one number for both. */
export type Pair = number | readonly [number, number];

/** Options of `conv2d` (PyTorch's `F.conv2d` keywords). */
export interface Conv2dOptions {
  /** @default 1 */
  stride?: Pair;
  /** Zero padding on each side. @default 0 */
  padding?: Pair;
  /** @default 1 */
  dilation?: Pair;
  /** Channel groups (groups == C == O is depthwise). @default 1 */
  groups?: number;
}

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

const conv2dOp: OpDef<ConvShape> = {
  name: "conv2d",
  forward(ctx, inputs, s) {
    const [x, w, b] = inputs.map((t, i) => denseF32(t, ["input", "weight", "bias"][i]));
    const y = convForwardRaw(x, w, b ?? null, s);
    ctx.save(x, w);
    [x, w, b].forEach((t, i) => t && t !== inputs[i] && t.dispose());
    return y;
  },
  backward(ctx, g0, s) {
    const [x, w] = ctx.saved;
    const g = denseF32(g0, "grad");
    const gx = ctx.needsGrad[0] ? convInputGradRaw(g, w, null, s) : null;
    const gw = ctx.needsGrad[1] ? convWeightGradRaw(g, x, s) : null;
    const gb = ctx.needsGrad[2] ? channelSumRaw(g) : null;
    if (g !== g0) g.dispose();
    return ctx.needsGrad.length === 3 ? [gx, gw, gb] : [gx, gw];
  },
};

/** Output size of a convolution along one axis. */
export function convOutputSize(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/**
 * `F.conv2d` on NCHW f32: x [N, C, H, W], weight [O, C/groups, KH, KW], bias [O] or null, with
 * stride, zero padding, dilation and groups (depthwise when groups == C == O). Differentiable in
 * all three inputs. Kernels: a direct depthwise kernel, a row-tiled implicit GEMM for stride 1
 * along W, a general implicit GEMM otherwise (see src/kernels/conv.ts); convs whose kernel equals
 * the stride without padding (1x1, 2x2 s2, 4x4 s4) run on the matmul kernel.
 *
 * @example
 * ```ts
 * const y = conv2d(x, w, b, { stride: 2, padding: 1 }); // x [1, 4, 17, 15], w [6, 4, 3, 3]
 * ```
 * @throws {RangeError} when shapes and options do not fit together.
 */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: Conv2dOptions = {},
): Tensor {
  const stride = convPair(opts.stride, 1, "conv2d(): stride", 1);
  const padding = convPair(opts.padding, 0, "conv2d(): padding", 0);
  const dilation = convPair(opts.dilation, 1, "conv2d(): dilation", 1);
  const groups = opts.groups ?? 1;
  if (x.rank !== 4 || weight.rank !== 4) {
    throw new RangeError(
      `conv2d(): expected x [N, C, H, W] and weight [O, C/groups, KH, KW], got ` +
        `${fmtShape(x.shape)} and ${fmtShape(weight.shape)}`,
    );
  }
  const [n, c, h, w] = x.shape, [o, cg, kh, kw] = weight.shape;
  if (!Number.isInteger(groups) || groups < 1 || c % groups || o % groups || cg * groups !== c) {
    throw new RangeError(
      `conv2d(): weight ${fmtShape(weight.shape)} with groups=${groups} does not fit input ` +
        `${fmtShape(x.shape)}: need C (${c}) = weight.shape[1] * groups and O divisible by groups`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== o)) {
    throw new RangeError(`conv2d(): bias must be [${o}], got ${fmtShape(bias.shape)}`);
  }
  const oh = convOutputSize(h, kh, stride[0], padding[0], dilation[0]);
  const ow = convOutputSize(w, kw, stride[1], padding[1], dilation[1]);
  if (oh < 1 || ow < 1) {
    throw new RangeError(
      `conv2d(): kernel ${kh}x${kw} (dilation ${dilation}) does not fit input ${h}x${w} ` +
        `with padding ${padding}`,
    );
  }
  const s: ConvShape = { n, c, h, w, o, oh, ow, groups, kh, kw, stride, padding, dilation };
  return apply(conv2dOp, bias ? [x, weight, bias] : [x, weight], s);
}
