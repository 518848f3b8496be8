/**
 * train/optim: the GPU optimiser step (AdamW) and global gradient-norm clipping.
 *
 * @module
 */
export * from "./adamw.ts";
export * from "./clip.ts";
