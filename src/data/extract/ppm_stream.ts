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
        const parsed = parseHeader(this.#header.subarray(0, this.#headerLen), this.offset);
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

/** Returns the size once `h` holds a complete header (ending in one whitespace), else null. */
function parseHeader(h: Uint8Array, offset: number): { width: number; height: number } | null {
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
