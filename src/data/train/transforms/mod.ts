/**
 * @module clip transforms (flip, affine, resize, colour jitter, grayscale, tensor, normalise),
 * their pixel plans, and the GPU pixel path.
 */
export * from "./transform.ts";
export * from "./resample.ts";
export * from "./geometry.ts";
export * from "./color.ts";
export * from "./color_ops.ts";
export * from "./tensor.ts";
export * from "./tensor_ops.ts";
export * from "./mosaic.ts";
export * from "./build.ts";
export * from "./plan.ts";
export * from "./gpu_pipeline.ts";
