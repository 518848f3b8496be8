/**
 * nn: `Module` (PyTorch-compatible state-dict keys), parameter initialisers and basic layers.
 *
 * @module
 */
export * from "./module.ts";
export * from "./init.ts";
export * from "./linear.ts";
