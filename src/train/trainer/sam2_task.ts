/**
 * The SAM 2 training task: `SAM2Train`'s forward (prompt simulation, corrections, tracking with
 * gradients through every frame) and `MultiStepMultiMasksAndIous` on a collated batch, as the
 * reference's `Trainer._step` computes them.
 */
import { isGpuBatch, type LoaderBatch } from "../../data/mod.ts";
import { splitSam2Train } from "../../sam2/config/mod.ts";
import { SAM2Train, SeededTrainRandom, type TrainRandom } from "../../sam2/train/mod.ts";
import { adopt, type Tensor, tensor } from "../../tensor/mod.ts";
import type { TrainingConfig } from "../config/mod.ts";
import { MultiStepMultiMasksAndIous } from "../loss/mod.ts";
import type { TrainingContext } from "./run_training.ts";
import type { StepOutput, TrainTask } from "./train_task.ts";

/** Options of {@link createSam2TrainTask}. */
export interface Sam2TrainTaskOptions {
  /**
   * The prompt-decision generator of the `step`-th call (0-based). @default a
   * `SeededTrainRandom` seeded from the run's seed and the step index
   */
  random?: (step: number) => TrainRandom;
}

/**
 * Builds the task from a trainer config: the model of `trainer.model` (SAM2Train options split
 * off), the loss of `trainer.loss.all`. Prompt decisions come from a generator seeded with the
 * run's seed and advanced per step, so a run is reproducible.
 *
 * @throws {Error} when the config has no model or loss.
 */
export function createSam2TrainTask(
  cfg: TrainingConfig,
  ctx: TrainingContext,
  opts: Sam2TrainTaskOptions = {},
): TrainTask<LoaderBatch> {
  const t = cfg.trainer;
  if (!t.model) throw new Error("trainer.model is missing from the training config");
  const { model: base, extra } = splitSam2Train(t.model);
  const lossCfg = t.loss?.all ?? Object.values(t.loss ?? {})[0];
  if (!lossCfg) throw new Error("trainer.loss has no MultiStepMultiMasksAndIous entry");
  const model = new SAM2Train(base, extra);
  model.train();
  const loss = new MultiStepMultiMasksAndIous(lossCfg);
  let stepIndex = 0;
  return {
    model,
    async: true,
    async step(batch: LoaderBatch): Promise<StepOutput> {
      const { numFrames: T, numObjects: O, height: H, width: W } = batch;
      const imgBatch = inputImages(batch);
      const step = stepIndex++;
      const rand = opts.random?.(step) ??
        new SeededTrainRandom((ctx.seed * 1_000_003 + step) >>> 0);
      const out = await model.forward(
        { imgBatch, masks: batch.masks, objToFrameIdx: batch.objToFrameIdx, numObjects: O },
        rand,
      );
      const targets = Array.from({ length: T }, (_, f) => ({
        data: batch.masks.subarray(f * O * H * W, (f + 1) * O * H * W),
        numObjects: O,
        height: H,
        width: W,
      }));
      const l = loss.forward(out.frames, targets);
      return {
        loss: l.core_loss,
        terms: {
          loss_mask: l.loss_mask,
          loss_dice: l.loss_dice,
          loss_iou: l.loss_iou,
          loss_class: l.loss_class,
        },
      };
    },
  };
}

/**
 * The model input [T, B, 3, H, W] of a batch, owned by the step's scope either way: host
 * images are uploaded into a tensor made inside the step (the trainer's `tidyAsync` frees it
 * when the step ends); a GPU batch's tensor (the loader ran the pixels on the GPU) is taken as
 * is, no read back and no second upload, and adopted into the same scope, so it is freed at
 * the same point and GPU memory stays flat across steps. The batch's tensor is then consumed:
 * a second step on the same GPU batch fails with "used after dispose".
 *
 * @throws {RangeError} when a GPU batch's tensor does not have the batch's shape.
 */
function inputImages(batch: LoaderBatch): Tensor {
  const { numFrames: T, numVideos: V, height: H, width: W } = batch;
  const shape = [T, V, 3, H, W];
  if (!isGpuBatch(batch)) return tensor(batch.imgBatch, shape);
  const t = batch.imgBatch;
  if (t.shape.join() !== shape.join() || t.dtype !== "f32") {
    throw new RangeError(
      `The batch's image tensor is ${t.dtype} [${t.shape}], its sizes say f32 [${shape}]`,
    );
  }
  t.assertAlive("SAM 2 training step (a GPU batch's images are freed by the step that used them)");
  return adopt(t);
}
