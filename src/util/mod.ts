/**
 * Small host-side helpers that every layer may use (this folder imports nothing of the
 * project): the atomic file write.
 *
 * @module
 */
export * from "./atomic_write.ts";
