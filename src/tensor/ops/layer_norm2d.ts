import { gpu } from "../../gpu/runtime.ts";
import {
  norm2dForwardKernel,
  norm2dInputGradKernel,
  norm2dParamGradKernel,
  norm2dPixelGrid,
  norm2dUniforms,
} from "../../kernels/norm2d.ts";
import { norm2dLaneKernel, norm2dLaneUniforms } from "../../kernels/norm2d_lane.ts";
import { LANE_MAX_LOOP, laneWorkgroups, reduceFormFor } from "../../kernels/reduce_form.ts";
import { apply } from "../autograd.ts";
import { bindingOf } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { copyContiguous } from "./layout.ts";
import { reduceRaw } from "./reduce.ts";

/**
 * Whether the lane-form kernels run (CPU adapters): four pixels per vec4 load, so H*W and every
 * offset must be multiples of 4; channels under llvmpipe's loop cap.
 */
/**
 * vec4s of pixels one lane-form invocation owns (forward, input gradient): 4 where H*W allows
 * (each weight/bias load serves 16 pixels; on lavapipe 1 -> 2 -> 4 measured 0.86x -> 1.15x ->
 * 1.6x an add's GB/s for [1,256,64,64]; 8 was slower again), else 2 or 1.
 */
function pixelVecs(hw: number): number {
  return hw % 16 === 0 ? 4 : hw % 8 === 0 ? 2 : 1;
}

function laneForm(c: number, hw: number, offsets: readonly number[]): boolean {
  return reduceFormFor(gpu().isCpuAdapter) === "lane" && hw % 4 === 0 && c <= LANE_MAX_LOOP &&
    offsets.every((o) => o % 4 === 0);
}

// weight and bias are bound whole, so they must start at element 0.
function dense0(t: Tensor): Tensor {
  if (t.dtype !== "f32") throw new TypeError(`layerNorm2d(): tensors must be f32, got ${t.dtype}`);
  return t.isContiguous && t.offset === 0 ? t : copyContiguous(t);
}
function dense(t: Tensor): Tensor {
  if (t.dtype !== "f32") throw new TypeError(`layerNorm2d(): tensors must be f32, got ${t.dtype}`);
  return t.isContiguous ? t : copyContiguous(t);
}

const layerNorm2dOp: OpDef<{ eps: number }> = {
  name: "layer_norm2d",
  forward(ctx, inputs, { eps }) {
    const x = dense(inputs[0]), w = dense0(inputs[1]), b = dense0(inputs[2]);
    const [n, c, h, wd] = x.shape;
    const pixels = n * h * wd;
    const y = Tensor.empty(x.shape, "f32");
    const mean = Tensor.empty([pixels], "f32"), rstd = Tensor.empty([pixels], "f32");
    if (y.size > 0 && laneForm(c, h * wd, [x.offset])) {
      const px = pixelVecs(h * wd);
      gpu().launch(norm2dLaneKernel("forward", px), {
        buffers: [y, mean, rstd, x, w, b].map(bindingOf),
        uniforms: norm2dLaneUniforms(n, c, h * wd, eps, { xOff: x.offset }),
        workgroups: laneWorkgroups(pixels / 4 / px),
      });
    } else if (y.size > 0) {
      const grid = norm2dPixelGrid(pixels);
      gpu().launch(norm2dForwardKernel(), {
        buffers: [y, mean, rstd, x, w, b].map(bindingOf),
        uniforms: norm2dUniforms(n, c, h * wd, eps, grid, x.offset),
        workgroups: grid,
      });
    }
    ctx.save(x, w, mean, rstd);
    mean.dispose();
    rstd.dispose();
    [x, w, b].forEach((t, i) => t !== inputs[i] && t.dispose());
    return y;
  },
  backward(ctx, g0, { eps }) {
    const [x, w, mean, rstd] = ctx.saved;
    const g = dense(g0);
    const [n, c, h, wd] = x.shape;
    const pixels = n * h * wd;
    let gx: Tensor | null = null, gw: Tensor | null = null, gb: Tensor | null = null;
    if (x.size > 0 && laneForm(c, h * wd, [x.offset, g.offset])) {
      const offs = { xOff: x.offset, gOff: g.offset };
      if (ctx.needsGrad[0]) {
        gx = Tensor.empty(x.shape, "f32");
        const px = pixelVecs(h * wd);
        gpu().launch(norm2dLaneKernel("inputGrad", px), {
          buffers: [gx, g, x, mean, rstd, w].map(bindingOf),
          uniforms: norm2dLaneUniforms(n, c, h * wd, eps, offs),
          workgroups: laneWorkgroups(pixels / 4 / px),
        });
      }
      if (ctx.needsGrad[1] || ctx.needsGrad[2]) {
        // Runs of pixels per channel: about 512 invocations, each under the loop cap.
        const runs = Math.min(
          pixels / 4,
          Math.max(Math.ceil(512 / c), Math.ceil(pixels / 4 / LANE_MAX_LOOP)),
        );
        const pw = Tensor.empty([c, runs], "f32"), pb = Tensor.empty([c, runs], "f32");
        gpu().launch(norm2dLaneKernel("paramGrad"), {
          buffers: [pw, pb, g, x, mean, rstd].map(bindingOf),
          uniforms: norm2dLaneUniforms(n, c, h * wd, eps, { ...offs, runs }),
          workgroups: laneWorkgroups(c * runs),
        });
        if (ctx.needsGrad[1]) gw = reduceRaw(pw, [1], "sum").view([c], [1], 0);
        if (ctx.needsGrad[2]) gb = reduceRaw(pb, [1], "sum").view([c], [1], 0);
        pw.dispose();
        pb.dispose();
      }
      if (g !== g0) g.dispose();
      return [gx, gw, gb];
    }
    if (ctx.needsGrad[0]) {
      gx = Tensor.empty(x.shape, "f32");
      if (gx.size > 0) {
        const grid = norm2dPixelGrid(pixels);
        gpu().launch(norm2dInputGradKernel(), {
          buffers: [gx, g, x, mean, rstd, w].map(bindingOf),
          uniforms: norm2dUniforms(n, c, h * wd, eps, grid, x.offset, g.offset),
          workgroups: grid,
        });
      }
    }
    if (ctx.needsGrad[1] || ctx.needsGrad[2]) {
      gw = Tensor.empty([c], "f32");
      gb = Tensor.empty([c], "f32");
      gpu().launch(norm2dParamGradKernel(), {
        buffers: [gw, gb, g, x, mean, rstd].map(bindingOf),
        uniforms: norm2dUniforms(n, c, h * wd, eps, [0], x.offset, g.offset),
        workgroups: [c, 1, 1],
      });
      if (!ctx.needsGrad[1]) gw = (gw.dispose(), null);
      if (!ctx.needsGrad[2]) gb = (gb.dispose(), null);
    }
    if (g !== g0) g.dispose();
    return [gx, gw, gb];
  },
};

/** Options of `layerNorm2d`. */
export interface LayerNorm2dOptions {
  /** Added to the variance. @default 1e-6 (SAM 2's LayerNorm2d) */
  eps?: number;
}

/**
 * SAM 2's `LayerNorm2d`: normalises x [N, C, H, W] over the channels at every pixel with the
 * biased variance, y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]; fused forward, input
 * gradient and parameter-gradient kernels.
 *
 * @example
 * ```ts
 * const y = layerNorm2d(x, weight, bias); // eps 1e-6
 * ```
 * @throws {RangeError} when weight/bias are not [C].
 */
export function layerNorm2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  opts: LayerNorm2dOptions = {},
): Tensor {
  if (x.rank !== 4) {
    throw new RangeError(`layerNorm2d(): expected x [N, C, H, W], got ${fmtShape(x.shape)}`);
  }
  const c = x.shape[1];
  if (weight.size !== c || bias.size !== c) {
    throw new RangeError(
      `layerNorm2d(): weight and bias must be [${c}] for input ${fmtShape(x.shape)}, got ` +
        `${fmtShape(weight.shape)} and ${fmtShape(bias.shape)}`,
    );
  }
  return apply(layerNorm2dOp, [x, weight, bias], { eps: opts.eps ?? 1e-6 });
}
