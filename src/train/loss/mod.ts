/**
 * train/loss: the SAM 2 training loss (`MultiStepMultiMasksAndIous`).
 *
 * @module
 */
export * from "./multi_step_multi_masks_and_ious.ts";
