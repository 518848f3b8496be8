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
  convPair,
  type Pair,
} from "./_conv_common.ts";

/** Options of `convTranspose2d` (PyTorch's `F.conv_transpose2d` keywords). */
export interface ConvTranspose2dOptions extends ConvGeometryOptions {
  /** Implicit padding removed from each side of the output. @default 0 */
  padding?: Pair;
  /** Extra rows/columns added at the bottom/right of the output (< stride or dilation). @default 0 */
  outputPadding?: Pair;
}

// The geometry is that of the forward conv whose input gradient this op is: its "x" is our
// output [N, Cout, OH, OW], its "y" our input [N, Cin, H, W], its weight [Cin, Cout/G, KH, KW].
const convTranspose2dOp = convOpDef("conv_transpose2d", convInputGradRaw, convForwardRaw, true);

/** Output size of a transposed convolution along one axis. */
export function convTransposeOutputSize(
  n: number,
  k: number,
  s: number,
  p: number,
  d: number,
  op: number,
): number {
  return (n - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

/**
 * `F.conv_transpose2d` on NCHW f32: x [N, Cin, H, W], weight [Cin, Cout/groups, KH, KW] (PyTorch's
 * layout), bias [Cout] or null; any stride, padding, output padding, dilation and groups.
 * Differentiable in all inputs. It runs the gather form of conv2d's input gradient, so each output
 * pixel sums its own taps (no atomics); its input gradient is a conv2d. The non-overlapping case
 * (kernel == stride, no padding: SAM 2's k2 s2 upscaling) is a matmul plus a pixel shuffle.
 *
 * @example
 * ```ts
 * const up = convTranspose2d(x, w, b, { stride: 2 }); // SAM 2 decoder: k2 s2, 2x upscaling
 * ```
 * @throws {RangeError} when shapes and options do not fit together.
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: ConvTranspose2dOptions = {},
): Tensor {
  const { stride, padding, dilation, groups } = convGeometry("convTranspose2d()", opts);
  const outPad = convPair(opts.outputPadding, 0, "convTranspose2d(): outputPadding", 0);
  if (x.rank !== 4 || weight.rank !== 4) {
    throw new RangeError(
      `convTranspose2d(): expected x [N, Cin, H, W] and weight [Cin, Cout/groups, KH, KW], got ` +
        `${fmtShape(x.shape)} and ${fmtShape(weight.shape)}`,
    );
  }
  const [n, cin, h, w] = x.shape, [wc, og, kh, kw] = weight.shape;
  if (!Number.isInteger(groups) || groups < 1 || wc !== cin || cin % groups) {
    throw new RangeError(
      `convTranspose2d(): weight ${fmtShape(weight.shape)} with groups=${groups} does not fit ` +
        `input ${fmtShape(x.shape)}: need weight.shape[0] = Cin (${cin}) divisible by groups`,
    );
  }
  for (let i = 0; i < 2; i++) {
    if (outPad[i] >= stride[i] && outPad[i] >= dilation[i]) {
      throw new RangeError(
        `convTranspose2d(): outputPadding ${outPad} must be smaller than stride or dilation`,
      );
    }
  }
  const cout = og * groups;
  checkConvBias("convTranspose2d()", bias, cout);
  const oh = convTransposeOutputSize(h, kh, stride[0], padding[0], dilation[0], outPad[0]);
  const ow = convTransposeOutputSize(w, kw, stride[1], padding[1], dilation[1], outPad[1]);
  if (oh < 1 || ow < 1) {
    throw new RangeError(`convTranspose2d(): output size ${oh}x${ow} is empty`);
  }
  const s: ConvShape = {
    n,
    c: cout,
    h: oh,
    w: ow,
    o: cin,
    oh: h,
    ow: w,
    groups,
    kh,
    kw,
    stride,
    padding,
    dilation,
  };
  return apply(convTranspose2dOp, bias ? [x, weight, bias] : [x, weight], s);
}
