/**
 * sam2-train: SAM 2 training and fine-tuning as declarative, cached pipelines on WebGPU.
 *
 * @module
 */
export * from "./src/pipeline/mod.ts";
export * from "./src/data/mod.ts";
export * from "./src/checkpoint/mod.ts";
export * from "./src/gpu/mod.ts";
export * from "./src/tensor/mod.ts";
export * from "./src/nn/mod.ts";
export * from "./src/sam2/mod.ts";
export * from "./src/train/mod.ts";
export * from "./src/eval/mod.ts";
export * from "./src/util/mod.ts";
