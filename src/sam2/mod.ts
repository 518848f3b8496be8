/**
 * sam2: the SAM 2 / SAM 2.1 model (image encoder, SAM heads, memory, tracking), its typed
 * configuration, and the position encodings, with module names equal to the reference's so that
 * state-dict keys match PyTorch's.
 *
 * @module
 */
export * from "./config/mod.ts";
export * from "./position_encoding.ts";
export * from "./backbone/mod.ts";
export * from "./sam/mod.ts";
export * from "./memory/mod.ts";
export * from "./sam2_base.ts";
export * from "./train/mod.ts";
