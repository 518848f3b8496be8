import { gpu } from "../../gpu/runtime.ts";
import {
  NORM2D_WG,
  norm2dForwardKernel,
  norm2dInputGradKernel,
  norm2dParamGradKernel,
  norm2dPixelGrid,
  norm2dUniforms,
} from "../../kernels/norm2d.ts";
import { norm2dLaneKernel, norm2dLaneUniforms } from "../../kernels/norm2d_lane.ts";
import { LANE_MAX_LOOP, laneWorkgroups, reduceFormFor } from "../../kernels/reduce_form.ts";
import { apply } from "../autograd.ts";
import { bindingOf, type LaunchChunk, planChunks } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { zeros } from "../create.ts";
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

/**
 * Blocks of batch items a launch is split into so that no binding passes the device's
 * maxStorageBufferBindingSize (`planChunks` over [N]: y/gx, x, g span C*H*W elements per item,
 * mean and rstd H*W). One block, the tensors' own offsets, when everything fits.
 *
 * @throws {RangeError} naming the op, the tensor and the limit when one item is above it.
 */
function itemBlocks(
  [n, c, hw]: [number, number, number],
  operands: { image?: (readonly [Tensor, number])[]; stats: readonly Tensor[] },
): LaunchChunk[] {
  const chw = c * hw;
  return planChunks("layerNorm2d", [n], [
    ...(operands.image ?? []).map(([tensor, offset]) => ({
      tensor,
      offset,
      strides: [chw],
      inner: chw,
    })),
    ...operands.stats.map((tensor) => ({ tensor, offset: 0, strides: [hw], inner: hw })),
  ]);
}

/** mean and rstd share one offset uniform: same size, so their windows always agree. */
function statsOffset(c: LaunchChunk, at: number): number {
  if (c.offsets[at] !== c.offsets[at + 1]) {
    throw new Error(
      `layerNorm2d: mean/rstd windows disagree (${c.offsets[at]}, ${c.offsets[at + 1]})`,
    );
  }
  return c.offsets[at];
}

const layerNorm2dOp: OpDef<{ eps: number }> = {
  name: "layer_norm2d",
  forward(ctx, inputs, { eps }) {
    const x = dense(inputs[0]), w = dense0(inputs[1]), b = dense0(inputs[2]);
    const [n, c, h, wd] = x.shape;
    const hw = h * wd;
    const y = Tensor.empty(x.shape, "f32");
    const mean = Tensor.empty([n * hw], "f32"), rstd = Tensor.empty([n * hw], "f32");
    const lane = laneForm(c, hw, [x.offset]);
    const wb = [w, b].map(bindingOf);
    // Operands: y, x, mean, rstd.
    for (
      const k of y.size > 0
        ? itemBlocks([n, c, hw], { image: [[y, 0], [x, x.offset]], stats: [mean, rstd] })
        : []
    ) {
      const nb = k.shape[0];
      const [by, bx, bm, br] = k.bindings;
      const offs = { yOff: k.offsets[0], mOff: statsOffset(k, 2) };
      if (lane) {
        const px = pixelVecs(hw);
        gpu().launch(norm2dLaneKernel("forward", px), {
          buffers: [by, bm, br, bx, ...wb],
          uniforms: norm2dLaneUniforms(nb, c, hw, eps, { xOff: k.offsets[1], ...offs }),
          workgroups: laneWorkgroups((nb * hw) / 4 / px),
        });
      } else {
        const grid = norm2dPixelGrid(nb * hw);
        gpu().launch(norm2dForwardKernel(), {
          buffers: [by, bm, br, bx, ...wb],
          uniforms: norm2dUniforms(nb, c, hw, eps, grid, k.offsets[1], 0, offs),
          workgroups: grid,
        });
      }
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
    const hw = h * wd;
    const lane = laneForm(c, hw, [x.offset, g.offset]);
    const gx = ctx.needsGrad[0] ? Tensor.empty(x.shape, "f32") : null;
    const params = ctx.needsGrad[1] || ctx.needsGrad[2];
    // Operands: g, x, [gx], mean, rstd.
    const image: [Tensor, number][] = [[g, g.offset], [x, x.offset]];
    if (gx) image.push([gx, 0]);
    const blocks = x.size > 0 ? itemBlocks([n, c, hw], { image, stats: [mean, rstd] }) : [];
    const st = image.length;
    // Parameter gradients: partial sums per block of items [blocks, C, runs], then summed. Runs of
    // pixels per channel keep every loop under llvmpipe's cap (workgroup form: 64 invocations
    // share a run; lane form: one invocation per run, about 512 of them).
    const most = blocks.reduce((m, k) => Math.max(m, k.shape[0]), 0) * hw;
    const runs = lane
      ? Math.max(
        1,
        Math.min(most / 4, Math.max(Math.ceil(512 / c), Math.ceil(most / 4 / LANE_MAX_LOOP))),
      )
      : Math.max(1, Math.ceil(most / (NORM2D_WG * LANE_MAX_LOOP)));
    const per = c * runs;
    const pw = params ? Tensor.empty([blocks.length * per], "f32") : null;
    const pb = params ? Tensor.empty([blocks.length * per], "f32") : null;
    const wBind = bindingOf(w);
    blocks.forEach((k, q) => {
      const nb = k.shape[0];
      const [bg, bx] = k.bindings;
      const offs = { xOff: k.offsets[1], gOff: k.offsets[0], mOff: statsOffset(k, st) };
      const [bm, br] = k.bindings.slice(st);
      if (gx) {
        const offsG = { ...offs, yOff: k.offsets[2] };
        if (lane) {
          const px = pixelVecs(hw);
          gpu().launch(norm2dLaneKernel("inputGrad", px), {
            buffers: [k.bindings[2], bg, bx, bm, br, wBind],
            uniforms: norm2dLaneUniforms(nb, c, hw, eps, offsG),
            workgroups: laneWorkgroups((nb * hw) / 4 / px),
          });
        } else {
          const grid = norm2dPixelGrid(nb * hw);
          gpu().launch(norm2dInputGradKernel(), {
            buffers: [k.bindings[2], bg, bx, bm, br, wBind],
            uniforms: norm2dUniforms(nb, c, hw, eps, grid, offs.xOff, offs.gOff, offsG),
            workgroups: grid,
          });
        }
      }
      if (pw && pb) {
        const parts = [pw, pb].map(bindingOf);
        if (lane) {
          gpu().launch(norm2dLaneKernel("paramGrad"), {
            buffers: [...parts, bg, bx, bm, br],
            uniforms: norm2dLaneUniforms(nb, c, hw, eps, { ...offs, runs, pOff: q * per }),
            workgroups: laneWorkgroups(per),
          });
        } else {
          gpu().launch(norm2dParamGradKernel(), {
            buffers: [...parts, bg, bx, bm, br],
            uniforms: norm2dUniforms(nb, c, hw, eps, [0], offs.xOff, offs.gOff, {
              ...offs,
              pOff: q * per,
              runs,
            }),
            workgroups: [c, runs, 1],
          });
        }
      }
    });
    let gw: Tensor | null = null, gb: Tensor | null = null;
    if (pw && pb) {
      // [blocks, C, runs] summed over blocks and runs (one block, one run: the sums themselves).
      const total = (p: Tensor) => {
        const r = blocks.length === 0
          ? zeros([c])
          : blocks.length === 1 && runs === 1
          ? p
          : blocks.length === 1
          ? reduceRaw(p.view([c, runs], [runs, 1], 0), [1], "sum")
          : reduceRaw(p.view([blocks.length, c, runs], [per, runs, 1], 0), [0, 2], "sum");
        const v = r.view([c], [1], 0);
        if (r !== p) r.dispose();
        p.dispose();
        return v;
      };
      gw = total(pw);
      gb = total(pb);
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
  // Every kernel walks the channels in one loop: llvmpipe would stop it short (wrong results).
  if (c > LANE_MAX_LOOP && gpu().isCpuAdapter) {
    throw new RangeError(
      `layerNorm2d(): ${c} channels in ${fmtShape(x.shape)} are above the ${LANE_MAX_LOOP} loop ` +
        "iterations a CPU adapter (llvmpipe) runs per invocation: use fewer channels",
    );
  }
  if (weight.size !== c || bias.size !== c) {
    throw new RangeError(
      `layerNorm2d(): weight and bias must be [${c}] for input ${fmtShape(x.shape)}, got ` +
        `${fmtShape(weight.shape)} and ${fmtShape(bias.shape)}`,
    );
  }
  return apply(layerNorm2dOp, [x, weight, bias], { eps: opts.eps ?? 1e-6 });
}
