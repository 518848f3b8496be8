/**
 * Splits ffmpeg's `image2pipe`/`ppm` output (binary P6 images back to back) into frames.
 * PPM carries its size in every header, so the reader needs no probe and follows a stream
 * whose size changes midway, or that ffmpeg rotated. Headers are read by the one scanner in
 * `_ppm_header.ts`, which the FIFO reader shares.
 *
 * @module
 */
import { PpmHeaderScanner, readPpmHeader } from "./_ppm_header.ts";

/** One decoded RGB frame: `data` is `width * height * 3` bytes, row-major, no padding. */
export interface RgbFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Header reads are this small, so that few bytes of the frame are read ahead. */
const HEADER_READ = 64;

/**
 * Incremental P6 parser: `push()` bytes as they arrive, get whole frames back.
 * Headers as ffmpeg writes them (`P6\n<w> <h>\n255\n`), with any whitespace and `#` comments,
 * are accepted; 8-bit samples (maxval 255) only.
 */
export class PpmSplitter {
  #scanner = new PpmHeaderScanner();
  #frame: RgbFrame | null = null;
  #filled = 0;
  /** Bytes consumed so far, for error messages. */
  offset = 0;

  /** Consumes `chunk` and returns the frames it completes (possibly none). */
  push(chunk: Uint8Array): RgbFrame[] {
    const done: RgbFrame[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#frame === null) {
        if (this.#scanner.length === 0) this.#scanner.reset(this.offset);
        const used = this.#scanner.push(i === 0 ? chunk : chunk.subarray(i));
        i += used;
        this.offset += used;
        const size = this.#scanner.size;
        if (size !== null) {
          const data = new Uint8Array(size.width * size.height * 3);
          this.#frame = { width: size.width, height: size.height, data };
          this.#filled = 0;
          this.#scanner.reset(this.offset);
        }
        continue;
      }
      const f = this.#frame;
      const n = Math.min(f.data.length - this.#filled, chunk.length - i);
      f.data.set(chunk.subarray(i, i + n), this.#filled);
      this.#filled += n;
      this.offset += n;
      i += n;
      if (this.#filled === f.data.length) {
        done.push(f);
        this.#frame = null;
      }
    }
    return done;
  }

  /** True when the stream ended on a frame boundary (no half frame or header pending). */
  get idle(): boolean {
    return this.#frame === null && this.#scanner.length === 0;
  }

  /**
   * Says the stream has ended.
   *
   * @throws {SyntaxError} when it ended inside a header or a frame, naming the byte
   */
  finish(): void {
    if (this.#scanner.length > 0) {
      throw new SyntaxError(`PPM stream: ended inside a frame header at byte ${this.offset}`);
    }
    if (this.#frame !== null) {
      throw new SyntaxError(
        `PPM stream: ended mid-frame at byte ${this.offset} (frame of ${this.#frame.data.length} bytes)`,
      );
    }
  }
}

/**
 * Reads P6 frames from a byte stream with BYOB reads straight into each frame's buffer:
 * no chunk copies and few reads (a pipe carries ~1.5 MB per 960x540 frame). Falls back to
 * {@linkcode PpmSplitter} over ordinary chunks when the stream has no BYOB reader.
 */
export class PpmReader {
  #byob: ReadableStreamBYOBReader | null = null;
  #chunks: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #splitter = new PpmSplitter();
  #queue: RgbFrame[] = [];
  #carry = new Uint8Array(0);
  #scanner = new PpmHeaderScanner();
  /** Bytes consumed so far, for error messages. */
  offset = 0;

  /**
   * `allocate(n)` supplies each frame's `n`-byte buffer (default: a new one), so a caller can
   * recycle buffers of frames it is done with instead of making the GC chase ~1 MB a frame.
   */
  constructor(
    stream: ReadableStream<Uint8Array>,
    readonly allocate: (bytes: number) => ArrayBuffer = (n) => new ArrayBuffer(n),
  ) {
    try {
      this.#byob = stream.getReader({ mode: "byob" });
    } catch {
      this.#chunks = stream.getReader();
    }
  }

  /** The next frame, or null at the end of the stream (on a frame boundary). */
  async next(): Promise<RgbFrame | null> {
    if (this.#chunks) return await this.#nextFromChunks(this.#chunks);
    const byob = this.#byob!;
    // Header: from small reads, so at most a few frame bytes are read ahead.
    const got = await readPpmHeader(this.#scanner, this.offset, this.#carry, async () => {
      const { value, done } = await byob.read(new Uint8Array(HEADER_READ));
      return done || !value ? null : value;
    });
    if (got === null) return null;
    const { size, rest } = got;
    this.#carry = rest;
    this.offset += this.#scanner.length;
    const n = size.width * size.height * 3;
    let buf = this.allocate(n);
    const head = Math.min(n, this.#carry.length);
    new Uint8Array(buf).set(this.#carry.subarray(0, head));
    this.#carry = this.#carry.subarray(head);
    let filled = head;
    while (filled < n) {
      const { value, done } = await byob.read(new Uint8Array(buf, filled, n - filled));
      if (done || !value) {
        throw new SyntaxError(
          `PPM stream: ended mid-frame at byte ${this.offset + filled} (frame of ${n} bytes)`,
        );
      }
      buf = value.buffer as ArrayBuffer;
      filled += value.byteLength;
    }
    this.offset += n;
    return { width: size.width, height: size.height, data: new Uint8Array(buf) };
  }

  async #nextFromChunks(r: ReadableStreamDefaultReader<Uint8Array>): Promise<RgbFrame | null> {
    while (this.#queue.length === 0) {
      const { value, done } = await r.read();
      if (done) {
        this.#splitter.finish();
        return null;
      }
      this.#queue.push(...this.#splitter.push(value));
      this.offset = this.#splitter.offset;
    }
    return this.#queue.shift()!;
  }

  /** Stops reading (the producer sees a closed pipe). */
  async cancel(): Promise<void> {
    await (this.#byob ?? this.#chunks)?.cancel().catch(() => {});
  }
}
