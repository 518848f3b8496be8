/**
 * What the trainer needs from a model and from data, kept small so the loop does not depend on
 * SAM 2: a task turns one batch into a scalar loss (and named terms for the logs), data yields
 * the batches of an epoch.
 */
import type { Module } from "../../nn/module.ts";
import type { Tensor } from "../../tensor/tensor.ts";

/** One step's result: the loss to back-propagate and the terms that make it up (for logs). */
export interface StepOutput {
  /** One-element tensor with grad (the reference's `core_loss`). */
  loss: Tensor;
  /**
   * Named parts of the loss (`loss_mask`, `loss_dice`, ...); one-element tensors, read back only
   * when logging or when the loss is not finite. @default {}
   */
  terms?: Record<string, Tensor>;
}

/**
 * A trainable model and its loss on one batch (the reference's `Trainer._step`: model forward
 * plus loss). `step` runs with grad recording on; the trainer calls backward, clips, and steps
 * the optimizer, then disposes the returned loss and terms.
 */
export interface TrainTask<B> {
  /** The module whose parameters are trained and saved (`checkpoint["model"]`). */
  model: Module;
  /**
   * Forward and loss for one batch. The trainer runs each step (forward, backward, optimizer)
   * inside `tidyAsync`, so every tensor the step made is freed when it ends, for synchronous
   * and asynchronous steps alike (`async: true`; SAM2Train's forward reads masks back to sample
   * correction clicks).
   */
  step(batch: B): StepOutput | Promise<StepOutput>;
  /** `step` returns a Promise. @default false */
  async?: boolean;
  /**
   * Class names (ours -> torch class path) for module classes not in TORCH_MODULE_CLASSES, so
   * `module_cls_names` selectors can see them. @default {}
   */
  moduleClasses?: Record<string, string>;
}

/** Batches by epoch (`ClipLoader` fits this). */
export interface TrainData<B> {
  /** Number of batches in `epoch` (for this rank). */
  numBatches(epoch: number): number;
  /** The batches of `epoch`, in order; the same epoch gives the same batches. */
  epoch(epoch: number): AsyncIterable<B> | Iterable<B>;
  /** Gives a consumed batch's buffers back (optional). */
  recycle?(batch: B): void;
}
