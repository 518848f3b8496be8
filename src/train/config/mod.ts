/**
 * @module train/config: training config files (the reference's `configs/sam2.1_training`
 * form) read into typed trees, and optimizer param groups built from them.
 *
 * ```ts
 * import { loadTrainingConfig } from "./mod.ts";
 * const cfg = await loadTrainingConfig("configs/sam2.1_training/sam2.1_hiera_b+_MOSE_finetune.yaml");
 * console.log(cfg.trainer.max_epochs); // 40
 * ```
 */
export * from "./training_types.ts";
export * from "./training_schema.ts";
export * from "./load_training_config.ts";
export * from "./param_groups.ts";
