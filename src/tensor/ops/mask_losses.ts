import { gpu } from "../../gpu/runtime.ts";
import {
  bceWithLogitsKernel,
  type FocalSpec,
  iouLossBackwardKernel,
  LOSS_CHUNK,
  lossWorkgroups,
  maskLossBackwardKernel,
  maskLossFinishKernel,
  type MaskLossKind,
  maskLossUniforms,
  maskStatsKernel,
  maskStatsUniforms,
} from "../../kernels/loss.ts";
import { apply } from "../autograd.ts";
import { bindingOf } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { fmtShape, sameShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { copyContiguous } from "./layout.ts";

function dense(t: Tensor): Tensor {
  return t.isContiguous && t.offset === 0 ? t : copyContiguous(t);
}

interface Attrs {
  kind: MaskLossKind;
  numObjects: number;
  focal: FocalSpec;
}

/** rows = masks (all dims but the last two), hw = pixels per mask. */
function geometry(x: Tensor): { rows: number; hw: number } {
  const hw = x.shape[x.rank - 1] * x.shape[x.rank - 2];
  return { rows: hw > 0 ? x.size / hw : 0, hw };
}

/** One pass over logits and targets, then the per-mask loss and the backward's stats. */
function forwardLoss(x: Tensor, t: Tensor, pred: Tensor | null, a: Attrs) {
  const { rows, hw } = geometry(x);
  const chunks = Math.ceil(hw / LOSS_CHUNK);
  const partials = Tensor.empty([Math.max(1, rows * chunks * 8)], "f32");
  const loss = Tensor.empty(x.shape.slice(0, -2), "f32");
  const stats = Tensor.empty([Math.max(1, rows * 4)], "f32");
  if (rows > 0) {
    gpu().launch(maskStatsKernel(a.focal), {
      buffers: [x, t, partials].map(bindingOf),
      uniforms: maskStatsUniforms(hw),
      workgroups: [chunks, rows, 1],
    });
    gpu().launch(maskLossFinishKernel(a.kind), {
      buffers: [partials, ...(pred ? [pred] : []), loss, stats].map(bindingOf),
      uniforms: maskLossUniforms({ rows, hw, numObjects: a.numObjects }),
      workgroups: lossWorkgroups(rows),
    });
  }
  partials.dispose();
  return { loss, stats };
}

const maskLossOp: OpDef<Attrs> = {
  name: "mask_loss",
  forward(ctx, inputs, a) {
    const [x, t, pred] = inputs.map(dense);
    const { loss, stats } = forwardLoss(x, t, pred ?? null, a);
    ctx.save(x, t, stats, ...(pred ? [pred] : []));
    stats.dispose();
    for (const d of [x, t, pred]) if (d && !inputs.includes(d)) d.dispose();
    return loss;
  },
  backward(ctx, g0, a) {
    const [x, t, stats, pred] = ctx.saved;
    const g = dense(g0);
    const { rows, hw } = geometry(x);
    const uni = maskLossUniforms({ rows, hw, numObjects: a.numObjects });
    let out: (Tensor | null)[];
    if (a.kind === "iou_l1" || a.kind === "iou_mse") {
      // The IoU target thresholds the logits: no gradient to logits or targets.
      const dpred = Tensor.empty(pred.shape, "f32");
      if (rows > 0) {
        gpu().launch(iouLossBackwardKernel(a.kind), {
          buffers: [pred, stats, g, dpred].map(bindingOf),
          uniforms: uni,
          workgroups: lossWorkgroups(rows),
        });
      }
      out = [null, null, ctx.needsGrad[2] ? dpred : (dpred.dispose(), null)];
    } else {
      let dx: Tensor | null = null;
      if (ctx.needsGrad[0]) {
        dx = Tensor.empty(x.shape, "f32");
        if (rows > 0) {
          const dice = a.kind === "dice";
          gpu().launch(maskLossBackwardKernel(dice ? "dice" : "focal", a.focal), {
            buffers: [x, t, g, ...(dice ? [stats] : []), dx].map(bindingOf),
            uniforms: uni,
            workgroups: lossWorkgroups(rows * hw),
          });
        }
      }
      out = [dx, null];
    }
    if (g !== g0) g.dispose();
    return out;
  },
};

/** Options shared by the mask losses. */
export interface MaskLossOptions {
  /** Divisor of every per-mask loss (objects in the batch, all-reduced, clamped >= 1). */
  numObjects: number;
}

function check(name: string, x: Tensor, t: Tensor): void {
  if (x.rank < 2 || !sameShape(x.shape, t.shape)) {
    throw new RangeError(
      `${name}(): logits ${fmtShape(x.shape)} and targets ${fmtShape(t.shape)} must be equal ` +
        `[..., H, W]`,
    );
  }
}

/**
 * SAM 2 sigmoid focal loss per mask (training/loss_fns.py with loss_on_multimask=True):
 * mean over H·W of α_t·BCE(x, t)·(1 - p_t)^γ, divided by numObjects. logits and targets
 * [..., H, W] -> [...]; differentiable in the logits.
 *
 * @example
 * ```ts
 * const lossMask = sigmoidFocalLoss(masks, gt, { numObjects: 2 }); // [N, M]
 * ```
 */
export function sigmoidFocalLoss(
  logits: Tensor,
  targets: Tensor,
  opts: MaskLossOptions & FocalSpec,
): Tensor {
  check("sigmoidFocalLoss", logits, targets);
  return apply(maskLossOp, [logits, targets], {
    kind: "focal",
    numObjects: opts.numObjects,
    focal: { alpha: opts.alpha ?? 0.25, gamma: opts.gamma ?? 2 },
  });
}

/**
 * SAM 2 dice loss per mask: (1 - (2·Σσ(x)t + 1)/(Σσ(x) + Σt + 1)) / numObjects over H·W.
 * logits and targets [..., H, W] -> [...]; differentiable in the logits.
 */
export function diceLoss(logits: Tensor, targets: Tensor, opts: MaskLossOptions): Tensor {
  check("diceLoss", logits, targets);
  return apply(maskLossOp, [logits, targets], {
    kind: "dice",
    numObjects: opts.numObjects,
    focal: {},
  });
}

/** Options of `iouLoss`. */
export interface IouLossOptions extends MaskLossOptions {
  /** L1 (the SAM 2 training config) instead of MSE. @default false */
  useL1?: boolean;
}

/**
 * SAM 2 IoU-prediction loss per mask: |pred - IoU| (L1) or (pred - IoU)² against the hard IoU
 * of (logits > 0) vs (targets > 0) (union clamped to >= 1), divided by numObjects. Only
 * `predIous` [...] gets a gradient.
 */
export function iouLoss(
  logits: Tensor,
  targets: Tensor,
  predIous: Tensor,
  opts: IouLossOptions,
): Tensor {
  check("iouLoss", logits, targets);
  if (!sameShape(predIous.shape, logits.shape.slice(0, -2))) {
    throw new RangeError(
      `iouLoss(): predIous ${fmtShape(predIous.shape)} must be ${
        fmtShape(logits.shape.slice(0, -2))
      }`,
    );
  }
  return apply(maskLossOp, [logits, targets, predIous], {
    kind: opts.useL1 ? "iou_l1" : "iou_mse",
    numObjects: opts.numObjects,
    focal: {},
  });
}

const bceOp: OpDef<undefined> = {
  name: "bce_with_logits",
  forward(ctx, inputs) {
    const [x, t] = inputs.map(dense);
    const out = Tensor.empty(x.shape, "f32");
    if (x.size > 0) {
      gpu().launch(bceWithLogitsKernel(false), {
        buffers: [x, t, out].map(bindingOf),
        uniforms: new Uint32Array([x.size, 0, 0, 0]),
        workgroups: lossWorkgroups(x.size),
      });
    }
    ctx.save(x, t);
    for (const d of [x, t]) if (!inputs.includes(d)) d.dispose();
    return out;
  },
  backward(ctx, g0) {
    if (!ctx.needsGrad[0]) return [null, null];
    const [x, t] = ctx.saved;
    const g = dense(g0);
    const dx = Tensor.empty(x.shape, "f32");
    if (x.size > 0) {
      gpu().launch(bceWithLogitsKernel(true), {
        buffers: [x, t, g, dx].map(bindingOf),
        uniforms: new Uint32Array([x.size, 0, 0, 0]),
        workgroups: lossWorkgroups(x.size),
      });
    }
    if (g !== g0) g.dispose();
    return [dx, null];
  },
};

/**
 * Elementwise `F.binary_cross_entropy_with_logits(x, t, reduction="none")` in torch's stable
 * form max(x, 0) - x·t + log1p(exp(-|x|)); gradient σ(x) - t to the logits only. Used for the
 * object-score loss (focal with α = -1, γ = 0).
 */
export function bceWithLogits(logits: Tensor, targets: Tensor): Tensor {
  if (!sameShape(logits.shape, targets.shape)) {
    throw new RangeError(
      `bceWithLogits(): logits ${fmtShape(logits.shape)} and targets ${
        fmtShape(targets.shape)
      } differ`,
    );
  }
  return apply(bceOp, [logits, targets], undefined);
}
