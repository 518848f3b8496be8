import type { MultiStepMultiMasksAndIousConfig } from "../../sam2/config/mod.ts";
import type { SamHeadsOutput } from "../../sam2/mod.ts";
import {
  argmin,
  bceWithLogits,
  diceLoss,
  gather,
  iouLoss,
  mean,
  sigmoidFocalLoss,
  sum,
  type Tensor,
  tensor,
} from "../../tensor/mod.ts";

/** The loss terms of one batch (scalars); `core_loss` is what backward starts from. */
export interface MultiStepLosses {
  loss_mask: Tensor;
  loss_dice: Tensor;
  loss_iou: Tensor;
  loss_class: Tensor;
  core_loss: Tensor;
}

/** One frame's predictions as the loss reads them (every prediction step). */
export interface LossFrameInput {
  multistep: readonly SamHeadsOutput[];
}

/** One frame's targets: [O, H, W] 0/1 masks on the host. */
export interface LossFrameTarget {
  data: Uint8Array;
  numObjects: number;
  height: number;
  width: number;
}

/**
 * `MultiStepMultiMasksAndIous` (training/loss_fns.py): per prediction step, focal and dice on
 * the mask with the smallest weighted focal+dice (all masks for the IoU loss with
 * `supervise_all_iou`), an L1/MSE loss of the predicted IoU against the hard IoU of `pred > 0`,
 * a BCE/focal object-score loss, mask terms gated by object presence, all divided by the number
 * of objects and summed over steps and frames.
 */
export class MultiStepMultiMasksAndIous {
  readonly weights: { loss_mask: number; loss_dice: number; loss_iou: number; loss_class: number };

  constructor(readonly config: MultiStepMultiMasksAndIousConfig) {
    const w = config.weight_dict;
    for (const k of ["loss_mask", "loss_dice", "loss_iou"] as const) {
      if (typeof w[k] !== "number") throw new RangeError(`Loss: weight_dict needs "${k}"`);
    }
    this.weights = {
      loss_mask: w.loss_mask,
      loss_dice: w.loss_dice,
      loss_iou: w.loss_iou,
      loss_class: w.loss_class ?? 0,
    };
  }

  /**
   * Losses of a clip: `outputs[t]` and `targets[t]` per frame. `numObjects` is the batch's
   * object count (all-reduced over workers and divided by the world size by the caller when
   * distributed), clamped to at least 1.
   */
  forward(
    outputs: readonly LossFrameInput[],
    targets: readonly LossFrameTarget[],
    numObjects?: number,
  ): MultiStepLosses {
    if (outputs.length !== targets.length) {
      throw new RangeError(`Loss: ${outputs.length} frame outputs but ${targets.length} targets`);
    }
    const n = Math.max(1, numObjects ?? targets[0]?.numObjects ?? 1);
    const total: Partial<Record<keyof MultiStepLosses, Tensor>> = {};
    const acc = (k: keyof MultiStepLosses, v: Tensor) => {
      total[k] = total[k] ? total[k]!.add(v) : v;
    };
    for (let f = 0; f < outputs.length; f++) {
      const frame = this.frameLosses(outputs[f], targets[f], n);
      for (const k of Object.keys(frame) as (keyof MultiStepLosses)[]) acc(k, frame[k]);
    }
    if (!total.core_loss) throw new RangeError("Loss: no frames");
    return total as MultiStepLosses;
  }

  /** One frame's losses summed over its prediction steps (`_forward`). */
  frameLosses(out: LossFrameInput, target: LossFrameTarget, numObjects: number): MultiStepLosses {
    const o = target.numObjects, h = target.height, w = target.width;
    const tgt = tensor(Float32Array.from(target.data), [o, 1, h, w]);
    const present = new Float32Array(o);
    for (let b = 0; b < o; b++) {
      present[b] = target.data.subarray(b * h * w, (b + 1) * h * w).some((x) => x > 0) ? 1 : 0;
    }
    const targetObj = tensor(present, [o, 1]);
    let lm: Tensor | null = null, ld: Tensor | null = null, li: Tensor | null = null;
    let lc: Tensor | null = null;
    const add = (a: Tensor | null, b: Tensor) => (a ? a.add(b) : b);
    for (const step of out.multistep) {
      const s = this.stepLosses(step, tgt, targetObj, numObjects);
      lm = add(lm, s.mask), ld = add(ld, s.dice), li = add(li, s.iou), lc = add(lc, s.cls);
    }
    if (!lm || !ld || !li || !lc) throw new RangeError("Loss: a frame has no prediction steps");
    const wt = this.weights;
    let core: Tensor | null = null;
    for (
      const [t, wk] of [[lm, wt.loss_mask], [ld, wt.loss_dice], [li, wt.loss_iou], [
        lc,
        wt.loss_class,
      ]] as const
    ) {
      if (wk !== 0) core = add(core, t.mul(wk));
    }
    return {
      loss_mask: lm,
      loss_dice: ld,
      loss_iou: li,
      loss_class: lc,
      core_loss: core ?? lm.mul(0),
    };
  }

  /** `_update_losses` for one step: each term summed over objects. */
  stepLosses(
    step: SamHeadsOutput,
    target: Tensor,
    targetObj: Tensor,
    numObjects: number,
  ): { mask: Tensor; dice: Tensor; iou: Tensor; cls: Tensor } {
    const c = this.config;
    const src = step.highResMultimasks;
    const [o, m] = src.shape;
    const tgt = target.expand(src.shape);
    const focal = sigmoidFocalLoss(src, tgt, {
      numObjects,
      alpha: c.focal_alpha ?? 0.25,
      gamma: c.focal_gamma ?? 2,
    }); // [O, M]
    const dice = diceLoss(src, tgt, { numObjects }); // [O, M]
    const iou = iouLoss(src, tgt, step.ious, { numObjects, useL1: c.iou_use_l1_loss }); // [O, M]
    let cls: Tensor;
    let obj = targetObj;
    if (!c.pred_obj_scores) {
      cls = tensor([0], []);
      obj = tensor(new Float32Array(o).fill(1), [o, 1]);
    } else {
      cls = objectScoreLoss(step.objectScoreLogits, targetObj, numObjects, {
        alpha: c.focal_alpha_obj_score ?? -1,
        gamma: c.focal_gamma_obj_score ?? 0,
      });
    }
    let lm: Tensor, ld: Tensor, li: Tensor;
    if (m > 1) {
      const combo = focal.mul(this.weights.loss_mask).add(dice.mul(this.weights.loss_dice));
      const best = argmin(combo, -1).reshape([o, 1]);
      lm = gather(focal, 1, best);
      ld = gather(dice, 1, best);
      li = c.supervise_all_iou ? mean(iou, -1, { keepdim: true }) : gather(iou, 1, best);
    } else {
      lm = focal, ld = dice, li = iou;
    }
    return {
      mask: sum(lm.mul(obj)),
      dice: sum(ld.mul(obj)),
      iou: sum(li.mul(obj)),
      cls,
    };
  }
}

/**
 * `sigmoid_focal_loss` on object-score logits [O, 1] with the default reduction
 * (`loss.mean(1).sum() / num_objects`); α < 0 disables the class weighting and γ = 0 the
 * modulating factor, which makes it plain BCE-with-logits.
 */
export function objectScoreLoss(
  logits: Tensor,
  targets: Tensor,
  numObjects: number,
  { alpha, gamma }: { alpha: number; gamma: number },
): Tensor {
  let loss = bceWithLogits(logits, targets);
  if (gamma !== 0) {
    const p = logits.sigmoid();
    const pT = p.mul(targets).add(p.neg().add(1).mul(targets.neg().add(1)));
    loss = loss.mul(pT.neg().add(1).pow(gamma));
  }
  if (alpha >= 0) {
    loss = loss.mul(targets.mul(alpha).add(targets.neg().add(1).mul(1 - alpha)));
  }
  return sum(mean(loss, 1)).div(numObjects);
}
