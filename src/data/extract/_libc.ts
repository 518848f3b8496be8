/**
 * The few libc calls the extractor makes through Deno's FFI (Linux, glibc): a FIFO for
 * ffmpeg's frames with a 1 MiB pipe buffer and reads straight into frame buffers, and
 * `free` for memory libjpeg allocated. Null when libc cannot be opened (another OS, or no
 * FFI permission): callers then use Deno's own pipes.
 *
 * @module
 */

const SYMBOLS = {
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  // open and fcntl are variadic in C; called with their fixed arguments (x86-64 and arm64
  // pass these in the same registers either way).
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fdopen: { parameters: ["i32", "buffer"], result: "pointer" },
  fclose: { parameters: ["pointer"], result: "i32" },
  // Blocking calls run on Deno's blocking-thread pool, so the event loop keeps going. Each
  // such call costs a hand-off between threads (~0.1 ms here), so reads go through fread,
  // which loops over read(2) on that thread until a whole frame is in.
  fread: {
    parameters: ["buffer", "usize", "usize", "pointer"],
    result: "usize",
    nonblocking: true,
  },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  free: { parameters: ["pointer"], result: "void" },
} as const;

/** The bound libc functions. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Linux constants (asm-generic, x86-64 and arm64). */
export const O_RDONLY = 0;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETPIPE_SZ = 1031;
export const POLLIN = 1;
export const POLLHUP = 16;
export const POLLERR = 8;
export const POLLNVAL = 32;

let libc: Libc | null | undefined;

/** libc through FFI, opened once; null off Linux/glibc or without FFI permission. */
export function openLibc(): Libc | null {
  if (libc !== undefined) return libc;
  if (Deno.build.os !== "linux") return (libc = null);
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    libc = null;
  }
  return libc;
}

/** A NUL-terminated copy of `s` for C. */
export function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
