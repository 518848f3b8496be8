import type { ConvShape } from "../../kernels/conv.ts";
import { apply } from "../autograd.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { convForwardRaw, convInputGradRaw } from "./_conv_launch.ts";
import {
  checkConvBias,
  convGeometry,
  type ConvGeometryOptions,
  convOpDef,
  type Pair,
} from "./_conv_common.ts";

// Public API from before they moved to _conv_common.ts (the nn conv layers import Pair here).
export { convPair, type Pair } from "./_conv_common.ts";

/** Options of `conv2d` (PyTorch's `F.conv2d` keywords). */
export interface Conv2dOptions extends ConvGeometryOptions {
  /** Zero padding on each side. @default 0 */
  padding?: Pair;
  /** Channel groups (groups == C == O is depthwise). @default 1 */
  groups?: number;
}

const conv2dOp = convOpDef("conv2d", convForwardRaw, convInputGradRaw, false);

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
 * Inputs, outputs and gradients above the device's maxStorageBufferBindingSize run per block
 * of batch items (`convOpDef`); one item above the limit is a RangeError naming the op.
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
  const { stride, padding, dilation, groups } = convGeometry("conv2d()", opts);
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
  checkConvBias("conv2d()", bias, o);
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
