/**
 * Splits ffmpeg's `image2pipe`/`ppm` output (binary P6 images back to back) into frames.
 * PPM carries its size in every header, so the reader needs no probe and follows a stream
 * whose size changes midway, or that ffmpeg rotated.
 *
 * @module
 */

/** One decoded RGB frame: `data` is `width * height * 3` bytes, row-major, no padding. */
export interface RgbFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

const MAX_HEADER = 64;

/**
 * Incremental P6 parser: `push()` bytes as they arrive, get whole frames back.
 * Only the header form ffmpeg writes (`P6\n<w> <h>\n255\n`, with any whitespace) is accepted.
 */
export class PpmSplitter {
  #header = new Uint8Array(MAX_HEADER);
  #headerLen = 0;
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
        // Header bytes: copy until the header's final whitespace after "255".
        const b = chunk[i++];
        this.offset++;
        if (this.#headerLen >= MAX_HEADER) {
          throw new SyntaxError(`PPM stream: header too long at byte ${this.offset}`);
        }
        this.#header[this.#headerLen++] = b;
        const parsed = parsePpmHeader(this.#header.subarray(0, this.#headerLen), this.offset);
        if (parsed) {
          this.#frame = {
            width: parsed.width,
            height: parsed.height,
            data: new Uint8Array(parsed.width * parsed.height * 3),
          };
          this.#filled = 0;
          this.#headerLen = 0;
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
    return this.#frame === null && this.#headerLen === 0;
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Returns the size once `h` holds a complete header (ending in one whitespace), else null.
 * `offset` (bytes consumed so far) only feeds error messages.
 */
export function parsePpmHeader(
  h: Uint8Array,
  offset: number,
): { width: number; height: number } | null {
  if (h.length < 2) {
    if (h[0] !== 0x50) throw new SyntaxError(`PPM stream: expected "P6" at byte ${offset - 1}`);
    return null;
  }
  if (h[0] !== 0x50 || h[1] !== 0x36) {
    throw new SyntaxError(`PPM stream: expected "P6" at byte ${offset - h.length}`);
  }
  const last = h[h.length - 1];
  if (!WS.has(last)) return null;
  const text = new TextDecoder().decode(h.subarray(2, h.length - 1));
  const fields = text.trim().split(/\s+/);
  if (fields.length < 3 || fields[0] === "") return null;
  const [w, hh, max] = fields.map(Number);
  if (!(w > 0 && hh > 0) || max !== 255 || fields.length > 3) {
    throw new SyntaxError(`PPM stream: unsupported header "P6 ${text.trim()}" at byte ${offset}`);
  }
  return { width: w, height: hh };
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
    // Header: from small reads (64 bytes), so at most a few frame bytes are read ahead.
    const header = new Uint8Array(MAX_HEADER);
    let hlen = 0;
    let size: { width: number; height: number } | null = null;
    while (size === null) {
      if (this.#carry.length === 0) {
        const { value, done } = await byob.read(new Uint8Array(64));
        if (done || !value) {
          if (hlen === 0) return null;
          throw new SyntaxError(`PPM stream: ended inside a frame header at byte ${this.offset}`);
        }
        this.#carry = value;
      }
      let i = 0;
      while (size === null && i < this.#carry.length) {
        if (hlen >= MAX_HEADER) {
          throw new SyntaxError(`PPM stream: header too long at byte ${this.offset}`);
        }
        header[hlen++] = this.#carry[i++];
        this.offset++;
        size = parsePpmHeader(header.subarray(0, hlen), this.offset);
      }
      this.#carry = this.#carry.subarray(i);
    }
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
        if (!this.#splitter.idle) {
          throw new SyntaxError(`PPM stream: ended mid-frame at byte ${this.#splitter.offset}`);
        }
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
