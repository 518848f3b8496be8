/**
 * nn: `Module` (PyTorch-compatible state-dict keys), parameter initialisers and basic layers.
 *
 * @module
 */
export * from "./module.ts";
export * from "./init.ts";
export * from "./linear.ts";
export * from "./layer_norm.ts";
export * from "./containers.ts";
export * from "./activation.ts";
export * from "./mlp.ts";
export * from "./dropout.ts";
export * from "./embedding.ts";
export * from "./attention.ts";
export * from "./conv2d.ts";
export * from "./conv_transpose2d.ts";
export * from "./layer_norm2d.ts";
