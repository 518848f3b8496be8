/**
 * The SAM 2 image encoder: Hiera trunk, FPN neck and their building blocks.
 *
 * @module
 */
export * from "./window.ts";
export * from "./pool.ts";
export * from "./patch_embed.ts";
export * from "./multiscale_attention.ts";
export * from "./multiscale_block.ts";
export * from "./hiera.ts";
export * from "./fpn_neck.ts";
export * from "./image_encoder.ts";
