/**
 * train: training configuration (the reference's trainer YAML), parameter groups and fvcore
 * schedules, the optimizer step (AdamW, grad-norm clipping).
 *
 * @module
 */
export * from "./config/mod.ts";
export * from "./schedule.ts";
export * from "./optim/mod.ts";
export * from "./loss/mod.ts";
export * from "./trainer/mod.ts";
