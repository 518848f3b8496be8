/**
 * SAM's prompt encoder and mask decoder as SAM 2 uses them.
 *
 * @module
 */
export * from "./position_embedding_random.ts";
export * from "./prompt_encoder.ts";
export * from "./two_way_transformer.ts";
export * from "./mask_decoder.ts";
