/**
 * train/trainer: the training loop with the reference trainer's semantics (schedules per step,
 * gradient clipping, AdamW, non-finite loss stop, rank-0 logs and checkpoints in the reference's
 * `checkpoint.pt` layout, resume), independent of the model through {@link TrainTask}, and
 * `runTraining`, which builds a run from a training config.
 *
 * @example
 * ```ts
 * const trainer = new Trainer({ task, data, maxEpochs: 2, optim: cfg.trainer.optim,
 *   checkpoint: { save_dir: "out/checkpoints" }, logDir: "out/logs" });
 * const result = await trainer.run();
 * ```
 *
 * @module
 */
export * from "./train_task.ts";
export * from "./module_classes.ts";
export * from "./trainer_checkpoint.ts";
export * from "./weight_init.ts";
export * from "./train_log.ts";
export * from "./paths.ts";
export * from "./trainer.ts";
export * from "./data_paths.ts";
export * from "./training_plan.ts";
export * from "./run_training.ts";
