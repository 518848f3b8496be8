/**
 * Small host-side helpers that every layer may use (this folder imports nothing of the
 * project): the atomic file write. The project's one libc binding through FFI (`_libc.ts`, used
 * by frame extraction and content hashing) lives here too but is internal: not re-exported.
 *
 * @module
 */
export * from "./atomic_write.ts";
