import { gpu } from "../../gpu/runtime.ts";
import {
  maxPool2dBackwardKernel,
  maxPool2dKernel,
  poolGrid,
  type PoolShape,
  poolUniforms,
} from "../../kernels/pool.ts";
import { apply } from "../autograd.ts";
import { bindingOf } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { denseF32 } from "./_conv_launch.ts";
import { convPair, type Pair } from "./_conv_common.ts";

/** Options of `maxPool2d` (PyTorch's `F.max_pool2d` keywords). */
export interface MaxPool2dOptions {
  /** Window size. */
  kernelSize: Pair;
  /** @default kernelSize */
  stride?: Pair;
  /** Implicit -inf padding on each side (at most half the kernel). @default 0 */
  padding?: Pair;
  /** @default 1 */
  dilation?: Pair;
  /** Round the output size up instead of down (floor mode is PyTorch's default). @default false */
  ceilMode?: boolean;
}

/** PyTorch's pooling output size along one axis. */
export function poolOutputSize(
  n: number,
  k: number,
  s: number,
  p: number,
  d: number,
  ceil: boolean,
): number {
  let out = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

function launchForward(x: Tensor, s: PoolShape): { values: Tensor; indices: Tensor } {
  if (x.dtype !== "f32") throw new TypeError(`maxPool2d(): input must be f32, got ${x.dtype}`);
  const values = Tensor.empty([s.n, s.c, s.oh, s.ow], "f32");
  const indices = Tensor.empty([s.n, s.c, s.oh, s.ow], "i32");
  if (values.size > 0) {
    const grid = poolGrid(values.size);
    gpu().launch(maxPool2dKernel(), {
      buffers: [values, indices, x].map(bindingOf),
      uniforms: poolUniforms(s, grid, x.offset, x.strides),
      workgroups: grid,
    });
  }
  return { values, indices };
}

const maxPool2dOp: OpDef<PoolShape> = {
  name: "max_pool2d",
  forward(ctx, [x], s) {
    const { values, indices } = launchForward(x, s);
    ctx.save(indices);
    indices.dispose();
    return values;
  },
  backward(ctx, g0, s) {
    const [indices] = ctx.saved;
    const g = denseF32(g0, "grad");
    const gx = Tensor.empty([s.n, s.c, s.h, s.w], "f32");
    if (gx.size > 0) {
      const grid = poolGrid(gx.size);
      gpu().launch(maxPool2dBackwardKernel(), {
        buffers: [gx, g, indices].map(bindingOf),
        uniforms: poolUniforms(s, grid, g.offset),
        workgroups: grid,
      });
    }
    if (g !== g0) g.dispose();
    return [gx];
  },
};

function poolShape(x: Tensor, o: MaxPool2dOptions): PoolShape {
  if (x.rank !== 4) {
    throw new RangeError(`maxPool2d(): expected x [N, C, H, W], got ${fmtShape(x.shape)}`);
  }
  const kernel = convPair(o.kernelSize, 1, "maxPool2d(): kernelSize", 1);
  const stride = o.stride === undefined ? kernel : convPair(o.stride, 1, "maxPool2d(): stride", 1);
  const padding = convPair(o.padding, 0, "maxPool2d(): padding", 0);
  const dilation = convPair(o.dilation, 1, "maxPool2d(): dilation", 1);
  if (padding[0] * 2 > kernel[0] || padding[1] * 2 > kernel[1]) {
    throw new RangeError(
      `maxPool2d(): padding ${padding} must be at most half the kernel size ${kernel}`,
    );
  }
  const [n, c, h, w] = x.shape;
  const ceil = o.ceilMode ?? false;
  const oh = poolOutputSize(h, kernel[0], stride[0], padding[0], dilation[0], ceil);
  const ow = poolOutputSize(w, kernel[1], stride[1], padding[1], dilation[1], ceil);
  if (oh < 1 || ow < 1) {
    throw new RangeError(
      `maxPool2d(): kernel ${kernel} does not fit input ${fmtShape(x.shape)} (output ${oh}x${ow})`,
    );
  }
  return { n, c, h, w, oh, ow, kernel, stride, padding, dilation };
}

/**
 * `F.max_pool2d` on NCHW f32 (floor mode by default). Reads the input through its strides (an
 * NHWC tensor permuted to NCHW is not copied). Backward routes each output's gradient to the
 * element it picked: the first maximum of its window in row-major order (PyTorch's tie rule).
 *
 * @example
 * ```ts
 * const y = maxPool2d(x, { kernelSize: 2 }); // SAM 2 q-pool: 2x2, stride 2, floor
 * ```
 * @throws {RangeError} when the window does not fit.
 */
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): Tensor {
  return apply(maxPool2dOp, [x], poolShape(x, opts));
}

/**
 * Values and PyTorch-style indices (i32, flat ih*W + iw within each (n, c) plane) of a max pool,
 * without autograd (`return_indices=True`).
 */
export function maxPool2dWithIndices(
  x: Tensor,
  opts: MaxPool2dOptions,
): { values: Tensor; indices: Tensor } {
  return launchForward(x, poolShape(x, opts));
}
