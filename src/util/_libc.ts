/**
 * The project's one binding of libc through Deno's FFI (Linux, glibc), for the few places
 * where Deno's own ops cost more than the work: frame extraction reads ffmpeg's frames from a
 * FIFO with a 1 MiB pipe buffer straight into frame buffers and frees what libjpeg allocated
 * (src/data/extract), and content hashing reads small files whole into one reused buffer
 * (src/pipeline). Each caller keeps a fallback to Deno's ops for when this returns null.
 *
 * libc is opened on the first {@linkcode openLibc} call, never at import time, so a program
 * that never needs it pays nothing. Without FFI permission it is not opened at all (no
 * prompt is shown): the permission is queried first, which never prompts.
 *
 * Internal to the project (not re-exported by src/util/mod.ts). This folder imports nothing
 * of the project.
 *
 * @module
 */

const SYMBOLS = {
  // open and fcntl are variadic in C; called with their fixed arguments (x86-64 and arm64
  // pass these in the same registers either way).
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  // ssize_t result read as i32: exact for counts under 2 GiB, which is all callers ask for.
  // Pass the count as a BigInt kept with the buffer: V8's fast call takes a BigInt for a
  // 64-bit parameter, where a number sends every call down the slow path (~8x the cost).
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  fdopen: { parameters: ["i32", "buffer"], result: "pointer" },
  fclose: { parameters: ["pointer"], result: "i32" },
  // Blocking calls run on Deno's blocking-thread pool, so the event loop keeps going. Each
  // such call costs a hand-off between threads (~0.1 ms here), so frame reads go through
  // fread, which loops over read(2) on that thread until a whole frame is in.
  fread: {
    parameters: ["buffer", "usize", "usize", "pointer"],
    result: "usize",
    nonblocking: true,
  },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  free: { parameters: ["pointer"], result: "void" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The bound libc functions (C names and signatures; see `SYMBOLS` for the types). */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Linux constants (asm-generic, the same on x86-64 and arm64). */
export const O_RDONLY = 0;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETPIPE_SZ = 1031;
export const POLLIN = 1;
export const POLLERR = 8;
export const POLLHUP = 16;
export const POLLNVAL = 32;
export const EINTR = 4;

let libc: Libc | null | undefined;

/**
 * libc through FFI, opened on the first call and then shared (once per thread: a Worker has
 * its own module instance). Null off Linux, where `libc.so.6` cannot be opened, or without
 * FFI permission: callers then use Deno's own ops.
 */
export function openLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  try {
    // querySync never prompts; dlopen without the permission would prompt on a terminal
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return libc;
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

let errnoView: Deno.UnsafePointerView | null = null;

/** This thread's `errno`, right after a call that failed (read before making another). */
export function errno(c: Libc): number {
  errnoView ??= new Deno.UnsafePointerView(c.__errno_location()!);
  return errnoView.getInt32();
}

/** errno values (Linux) mapped to the `Deno.errors` class Deno's own ops would throw. */
const ERRNO: Record<number, [string, string]> = {
  1: ["PermissionDenied", "Operation not permitted"],
  2: ["NotFound", "No such file or directory"],
  13: ["PermissionDenied", "Permission denied"],
  20: ["NotADirectory", "Not a directory"],
  21: ["IsADirectory", "Is a directory"],
  40: ["FilesystemLoop", "Too many levels of symbolic links"],
};

/**
 * The error Deno's own op would throw for `code` (its `Deno.errors` class where it has one),
 * with a message naming the call and the path, like Deno's:
 * `No such file or directory (os error 2): open '/x/y'`.
 */
export function libcError(code: number, op: string, path: string): Error {
  const [name, text] = ERRNO[code] ?? ["Error", "system error"];
  const message = `${text} (os error ${code}): ${op} '${path}'`;
  const cls = (Deno.errors as unknown as Record<string, ErrorConstructor | undefined>)[name];
  return cls ? new cls(message) : new Error(message);
}
