/**
 * Reading small files whole through libc (Deno FFI): open, read, close straight into one
 * reused buffer. A symbol call through FFI is a V8 fast call (tens of ns), where each
 * `Deno.openSync`/`readSync`/`close` goes through the runtime's op layer and allocates a
 * resource (about as much CPU again as the syscalls themselves for a 100-byte file). Null
 * off Linux/glibc or without FFI permission (`--allow-ffi`): callers then read with Deno.
 *
 * The binding itself is src/util/_libc.ts, shared with frame extraction.
 *
 * @module
 */
import {
  EINTR,
  errno,
  type Libc,
  libcError,
  O_CLOEXEC,
  O_DIRECTORY,
  O_RDONLY,
  openLibc,
} from "../util/_libc.ts";

/**
 * Reads whole files into one buffer that grows as needed and is reused from file to file:
 * `read(path)` returns the byte count, valid in `buffer` until the next call. Files in the
 * folder of the previous one are opened relative to it (`openat`), which spares the kernel
 * walking the whole path again. `close()` (or `using`) releases that folder.
 */
export class LibcFileReader {
  #buf = new Uint8Array(64 << 10);
  #bufLen = BigInt(64 << 10);
  #path = new Uint8Array(4096);
  readonly #libc: Libc;
  readonly #enc = new TextEncoder();
  /** The folder of the last file read, open, so the next file there is found by name alone. */
  #dir = "";
  #dirFd = -1;

  private constructor(libc: Libc) {
    this.#libc = libc;
  }

  /** A reader, or null when libc cannot be bound here (then read with Deno). */
  static create(): LibcFileReader | null {
    const c = openLibc();
    return c ? new LibcFileReader(c) : null;
  }

  /** The buffer the last `read` filled (its first n bytes). */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /**
   * Reads the file at `path` whole; returns its length. `expected` (the size a listing gave)
   * lets a read that returns exactly that many bytes into a larger buffer end the file
   * without a second read to see EOF (regular files read short only at their end); a file
   * that grew since fills the buffer and is read on.
   */
  read(path: string, expected = -1): number {
    const c = this.#libc;
    const fd = this.#open(path);
    if (fd < 0) this.#fail("open", path);
    let n = 0;
    try {
      if (expected >= this.#buf.length) this.#grow(expected + 1);
      for (;;) {
        if (n === this.#buf.length) this.#grow(n * 2);
        const r = n === 0
          ? c.read(fd, this.#buf, this.#bufLen)
          : c.read(fd, this.#buf.subarray(n), BigInt(this.#buf.length - n));
        if (r < 0) {
          if (errno(c) === EINTR) continue;
          this.#fail("read", path);
        }
        if (r === 0) break;
        n += r;
        if (n === expected && n < this.#buf.length) break;
      }
    } finally {
      c.close(fd);
    }
    return n;
  }

  /** Releases the folder kept open; the reader stays usable. */
  close(): void {
    if (this.#dirFd >= 0) this.#libc.close(this.#dirFd);
    this.#dirFd = -1;
    this.#dir = "";
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #open(path: string): number {
    const c = this.#libc;
    const cut = path.lastIndexOf("/");
    if (cut > 0) {
      const dir = path.slice(0, cut);
      if (dir !== this.#dir) {
        this.close();
        this.#dirFd = c.open(this.#cPath(dir), O_RDONLY | O_CLOEXEC | O_DIRECTORY, 0);
        // a folder that cannot be opened: the full path's open below names the file
        if (this.#dirFd >= 0) this.#dir = dir;
      }
      if (this.#dirFd >= 0) {
        return c.openat(this.#dirFd, this.#cPath(path.slice(cut + 1)), O_RDONLY | O_CLOEXEC, 0);
      }
    }
    return c.open(this.#cPath(path), O_RDONLY | O_CLOEXEC, 0);
  }

  #grow(min: number): void {
    let len = this.#buf.length;
    while (len < min) len *= 2;
    const bigger = new Uint8Array(len);
    bigger.set(this.#buf);
    this.#buf = bigger;
    this.#bufLen = BigInt(len);
  }

  /** `path` as a NUL-terminated C string in the reused path buffer. */
  #cPath(path: string): Uint8Array {
    if (path.includes("\0")) {
      throw new TypeError(`path contains a NUL byte: ${JSON.stringify(path)}`);
    }
    if (path.length * 3 + 1 > this.#path.length) this.#path = new Uint8Array(path.length * 3 + 1);
    const { written } = this.#enc.encodeInto(path, this.#path);
    this.#path[written] = 0;
    return this.#path;
  }

  /** Throws the `Deno.errors` class Deno would, with a message naming the path. */
  #fail(op: string, path: string): never {
    throw libcError(errno(this.#libc), op, path);
  }
}
