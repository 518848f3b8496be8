/**
 * SAM 2's memory: memory attention (RoPE self/cross attention to past frames) and the memory
 * encoder (mask downsampler + fuser).
 *
 * @module
 */
export * from "./memory_attention.ts";
export * from "./memory_encoder.ts";
