/**
 * ffmpeg's PPM frames through a named pipe that this process reads with libc calls (FFI),
 * instead of the child's stdout stream. Why: a Linux pipe holds 64 KiB, so Deno's stream
 * reader needs ~20 reads (each an async op with its own wake-up) per 848x480 frame; here the
 * FIFO's buffer is raised to 1 MiB (`F_SETPIPE_SZ`) and one `fread` per frame, run on a
 * worker thread, fills the frame's buffer (header included) straight from the pipe. This
 * takes about half the CPU time of the stream reader per frame.
 *
 * The frame format and checks are those of {@linkcode PpmReader}: a header that differs from
 * the last one (a size change midway) is parsed afresh.
 *
 * @module
 */
import { join } from "node:path";
import type { RgbFrame } from "./ppm_stream.ts";
import { PpmHeaderScanner, readPpmHeader } from "./_ppm_header.ts";
import {
  cString,
  F_GETFL,
  F_SETFL,
  F_SETPIPE_SZ,
  type Libc,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  openLibc,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
} from "../../util/_libc.ts";

/** Header reads are this small, so that few bytes of the frame are read ahead. */
const HEADER_READ = 64;
const PIPE_BYTES = 1 << 20;
/** The FIFO's file name inside the folder given to {@linkcode FifoPpmReader.create}. */
export const FIFO_NAME = ".frames.ppm.fifo";

/** Reads P6 frames from a FIFO that ffmpeg writes to (`ffmpeg ... -y <path>`). */
export class FifoPpmReader {
  #fd: number;
  /** The FILE* over `#fd` once the writer has connected (reads then block). */
  #file: Deno.PointerValue = null;
  #ended = false;
  #closed = false;
  #busy: Promise<unknown> = Promise.resolve();
  /** The last header's bytes and its frame's size: the next frame most likely repeats them. */
  #header: Uint8Array | null = null;
  #frameBytes = 0;
  #width = 0;
  #height = 0;
  #carry = new Uint8Array(0);
  #scanner = new PpmHeaderScanner();
  #pollFd = new Uint8Array(8);
  /** Bytes consumed so far, for error messages. */
  offset = 0;

  private constructor(
    readonly libc: Libc,
    fd: number,
    /** The FIFO's path: give it to ffmpeg as its output. */
    readonly path: string,
    readonly allocate: (bytes: number) => ArrayBuffer,
  ) {
    this.#fd = fd;
    new DataView(this.#pollFd.buffer).setInt32(0, fd, true);
    new DataView(this.#pollFd.buffer).setInt16(4, POLLIN, true);
  }

  /**
   * Makes a FIFO `.frames.ppm.fifo` in `dir` (the video's staging folder, so a killed run
   * leaves it where the next run clears anyway) and opens its read end without blocking:
   * ffmpeg opens the write end later. Null when libc/FFI or FIFOs are not available there.
   */
  static create(
    dir: string,
    allocate: (bytes: number) => ArrayBuffer = (n) => new ArrayBuffer(n),
  ): FifoPpmReader | null {
    const libc = openLibc();
    if (libc === null) return null;
    const path = join(dir, FIFO_NAME);
    const cpath = cString(path);
    if (libc.mkfifo(cpath, 0o600) !== 0) return null;
    const fd = libc.open(cpath, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0) {
      try {
        Deno.removeSync(path);
      } catch { /* gone */ }
      return null;
    }
    // Best effort: above the user's pipe quota Linux refuses and the pipe stays at 64 KiB.
    libc.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES);
    return new FifoPpmReader(libc, fd, path, allocate);
  }

  /**
   * Tells the reader that the writer has exited: until some data has arrived the FIFO cannot
   * tell "not opened yet" from "never will be", so waiting stops once this is called.
   */
  writerExited(): void {
    this.#ended = true;
  }

  /** Up to `len` bytes into `buf` at `at`; 0 at the end of the stream. */
  async #read(buf: Uint8Array, at: number, len: number): Promise<number> {
    if (this.#closed) return 0;
    const libc = this.libc;
    while (this.#file === null) {
      // Wait for the writer's first bytes (or its hang-up) in short polls.
      const r = await libc.poll(this.#pollFd, 1n, 100);
      const revents = new DataView(this.#pollFd.buffer).getInt16(6, true);
      if (r > 0 && (revents & (POLLERR | POLLNVAL)) !== 0) {
        throw new Error(`Frame pipe "${this.path}" failed (poll events ${revents})`);
      }
      if (r > 0 && (revents & POLLIN) !== 0) {
        // From now on, block in fread (on a worker thread) until data or end of stream.
        const flags = libc.fcntl(this.#fd, F_GETFL, 0);
        if (flags >= 0) libc.fcntl(this.#fd, F_SETFL, flags & ~O_NONBLOCK);
        this.#file = libc.fdopen(this.#fd, cString("r"));
        if (this.#file === null) throw new Error(`Cannot open the frame pipe "${this.path}"`);
      } else if ((r > 0 && (revents & POLLHUP) !== 0) || (r === 0 && this.#ended)) {
        return 0;
      }
    }
    // Short only at the end of the stream (or on an error, which ends it too).
    return Number(await libc.fread(buf.subarray(at, at + len), 1n, BigInt(len), this.#file));
  }

  /** Fills `buf[at..]` from the carry, then the pipe; returns the bytes filled. */
  async #fill(buf: Uint8Array, at: number): Promise<number> {
    let filled = at;
    if (this.#carry.length > 0) {
      const k = Math.min(this.#carry.length, buf.length - filled);
      buf.set(this.#carry.subarray(0, k), filled);
      this.#carry = this.#carry.subarray(k);
      filled += k;
    }
    while (filled < buf.length) {
      const n = await this.#read(buf, filled, buf.length - filled);
      if (n === 0) break;
      filled += n;
    }
    return filled;
  }

  /** The next frame, or null at the end of the stream (on a frame boundary). */
  next(): Promise<RgbFrame | null> {
    const p = this.#next();
    this.#busy = p.catch(() => {});
    return p;
  }

  async #next(): Promise<RgbFrame | null> {
    if (this.#header !== null) {
      // Likely case: same header as the last frame; read header and pixels in one go.
      const h = this.#header, n = this.#frameBytes;
      const buf = new Uint8Array(this.allocate(h.length + n), 0, h.length + n);
      const filled = await this.#fill(buf, 0);
      if (filled === 0) return null;
      let same = filled >= h.length;
      for (let i = 0; same && i < h.length; i++) same = buf[i] === h[i];
      if (same && filled === buf.length) {
        this.offset += buf.length;
        return { width: this.#width, height: this.#height, data: buf.subarray(h.length) };
      }
      if (same) {
        throw new SyntaxError(
          `PPM stream: ended mid-frame at byte ${this.offset + filled} (frame of ${n} bytes)`,
        );
      }
      // A different header (the size changed): parse what was read afresh, before whatever
      // the carry still holds.
      const rest = this.#carry;
      this.#carry = new Uint8Array(filled + rest.length);
      this.#carry.set(buf.subarray(0, filled));
      this.#carry.set(rest, filled);
      this.#header = null;
    }
    // The header from the carry, topped up with small reads.
    const got = await readPpmHeader(this.#scanner, this.offset, this.#carry, async () => {
      const chunk = new Uint8Array(HEADER_READ);
      const k = await this.#read(chunk, 0, HEADER_READ);
      return k === 0 ? null : chunk.subarray(0, k);
    });
    if (got === null) return null;
    const { size, rest } = got;
    const header = this.#scanner.bytes, hlen = header.length;
    this.#carry = rest;
    this.offset += hlen;
    const n = size.width * size.height * 3;
    const buf = new Uint8Array(this.allocate(hlen + n), 0, hlen + n);
    buf.set(header);
    const filled = await this.#fill(buf, hlen);
    if (filled < buf.length) {
      throw new SyntaxError(
        `PPM stream: ended mid-frame at byte ${this.offset + filled - hlen} (frame of ${n} bytes)`,
      );
    }
    this.offset += n;
    this.#header = header.slice();
    this.#frameBytes = n;
    this.#width = size.width;
    this.#height = size.height;
    return { width: size.width, height: size.height, data: buf.subarray(hlen) };
  }

  /**
   * Closes the read end (after any read in flight returns: the caller stops ffmpeg first, so
   * it does) and removes the FIFO.
   */
  async cancel(): Promise<void> {
    if (this.#closed) return;
    this.#ended = true;
    await this.#busy;
    this.#closed = true;
    if (this.#file !== null) this.libc.fclose(this.#file);
    else this.libc.close(this.#fd);
    await Deno.remove(this.path).catch(() => {});
  }
}
