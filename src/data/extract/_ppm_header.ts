/**
 * The one scanner of binary PPM (P6) headers, shared by every frame reader of this folder
 * (the chunk splitter and BYOB reader of `ppm_stream.ts`, the FIFO reader of
 * `_fifo_reader.ts`): bytes go in as they arrive, in chunks cut anywhere, and it stops right
 * after the header's last byte, so what follows is the frame's pixels.
 *
 * Accepted: `P6`, whitespace, width, height and maxval as decimal numbers separated by
 * whitespace, `#` comments (to the end of the line) wherever whitespace may stand before the
 * maxval, then exactly one whitespace byte. Only maxval 255 (8-bit samples, what ffmpeg's
 * `ppm` output of rgb24 writes) is read; anything else is a `SyntaxError` naming the byte
 * offset in the stream.
 *
 * @module
 */

/** A frame's size, from its header. */
export interface PpmSize {
  width: number;
  height: number;
}

/** Headers longer than this (comments included) are taken for garbage, not waited out. */
export const MAX_PPM_HEADER = 4096;

const MAGIC = 0, SEP = 1, COMMENT = 2, NUMBER = 3, DONE = 4;
const FIELDS = ["width", "height", "maxval"];

function isSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

/**
 * Incremental P6 header scanner: {@linkcode reset} at a header's first byte, then
 * {@linkcode push} chunks until {@linkcode size} is set. It keeps the header's bytes
 * ({@linkcode bytes}), so a reader can tell whether the next frame's header is the same.
 */
export class PpmHeaderScanner {
  #bytes = new Uint8Array(64);
  #len = 0;
  #start = 0;
  #state = MAGIC;
  #field = 0;
  #value = 0;
  #digits = 0;
  /** Whitespace (or a comment) seen since the last token, as a number must follow one. */
  #spaced = false;
  /** Width and height once read. */
  #sizeFields = [0, 0];
  #size: PpmSize | null = null;

  /** Starts a new header whose first byte is byte `at` of the stream (for error messages). */
  reset(at: number): void {
    this.#len = 0;
    this.#start = at;
    this.#state = MAGIC;
    this.#field = 0;
    this.#value = 0;
    this.#digits = 0;
    this.#spaced = false;
    this.#size = null;
  }

  /** The frame's size once the header is complete, else null. */
  get size(): PpmSize | null {
    return this.#size;
  }

  /** Header bytes taken so far (0 before the first byte of a header). */
  get length(): number {
    return this.#len;
  }

  /** The header's bytes taken so far (a view, valid until the next `reset`). */
  get bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.#len);
  }

  /**
   * Takes header bytes from the front of `chunk` and returns how many it took: all of them
   * while the header goes on, fewer once it ends (the rest is the frame's pixels).
   *
   * @throws {SyntaxError} when the bytes are not a P6 header with maxval 255, or the header
   * runs past {@linkcode MAX_PPM_HEADER} bytes
   */
  push(chunk: Uint8Array): number {
    let i = 0;
    while (i < chunk.length && this.#state !== DONE) {
      const b = chunk[i++];
      this.#keep(b);
      this.#step(b);
    }
    return i;
  }

  #keep(b: number): void {
    if (this.#len >= MAX_PPM_HEADER) {
      throw new SyntaxError(
        `PPM stream: header at byte ${this.#start} runs past ${MAX_PPM_HEADER} bytes`,
      );
    }
    if (this.#len === this.#bytes.length) {
      const bigger = new Uint8Array(this.#bytes.length * 4);
      bigger.set(this.#bytes);
      this.#bytes = bigger;
    }
    this.#bytes[this.#len++] = b;
  }

  #step(b: number): void {
    const at = this.#start + this.#len - 1;
    switch (this.#state) {
      case MAGIC:
        if (b !== (this.#len === 1 ? 0x50 : 0x36)) {
          throw new SyntaxError(`PPM stream: expected "P6" at byte ${this.#start}`);
        }
        if (this.#len === 2) this.#state = SEP;
        return;
      case COMMENT:
        if (b === 0x0a || b === 0x0d) this.#state = SEP;
        return;
      case SEP:
        if (isSpace(b)) {
          this.#spaced = true;
        } else if (b === 0x23) {
          this.#spaced = true;
          this.#state = COMMENT;
        } else if (isDigit(b) && this.#spaced) {
          this.#state = NUMBER;
          this.#value = b - 0x30;
          this.#digits = 1;
        } else {
          this.#unexpected(b, at, `whitespace, "#" or the ${FIELDS[this.#field]}`);
        }
        return;
      case NUMBER:
        if (isDigit(b)) {
          if (++this.#digits > 9) {
            throw new SyntaxError(
              `PPM stream: ${FIELDS[this.#field]} too large at byte ${at} (over 9 digits)`,
            );
          }
          this.#value = this.#value * 10 + b - 0x30;
          return;
        }
        if (this.#field === 2) {
          // The maxval ends the header with exactly one whitespace byte; pixels follow.
          if (!isSpace(b)) this.#unexpected(b, at, "one whitespace byte after the maxval");
          this.#endField(at);
          this.#state = DONE;
          return;
        }
        if (!isSpace(b) && b !== 0x23) this.#unexpected(b, at, "whitespace or a digit");
        this.#endField(at);
        this.#spaced = true;
        this.#state = b === 0x23 ? COMMENT : SEP;
        return;
    }
  }

  #endField(at: number): void {
    const v = this.#value;
    if (this.#field === 2) {
      if (v !== 255) {
        throw new SyntaxError(
          `PPM stream: maxval ${v} at byte ${at - this.#digits} is not supported: only 8-bit ` +
            `frames (maxval 255) are read; have ffmpeg write -pix_fmt rgb24`,
        );
      }
      const [width, height] = this.#sizeFields;
      this.#size = { width, height };
      return;
    }
    if (v === 0) {
      throw new SyntaxError(
        `PPM stream: ${FIELDS[this.#field]} 0 at byte ${at - this.#digits}: a frame needs pixels`,
      );
    }
    this.#sizeFields[this.#field] = v;
    this.#field++;
    this.#spaced = false;
  }

  #unexpected(b: number, at: number, wanted: string): never {
    const shown = b >= 0x20 && b < 0x7f
      ? JSON.stringify(String.fromCharCode(b))
      : `0x${b.toString(16).padStart(2, "0")}`;
    throw new SyntaxError(`PPM stream: expected ${wanted} at byte ${at}, found ${shown}`);
  }
}

/**
 * Reads one header for a reader that pulls bytes: first from `carry` (bytes already read
 * past the last frame), then from `read()` (null at the end of the stream). `at` is the
 * stream offset of the header's first byte. Returns the frame's size and the bytes read past
 * the header (the start of its pixels), or null when the stream ends before a header starts;
 * the header's bytes are then in `scanner.bytes`.
 *
 * @throws {SyntaxError} on a bad header, or one the stream ends inside
 */
export async function readPpmHeader<B extends ArrayBufferLike>(
  scanner: PpmHeaderScanner,
  at: number,
  carry: Uint8Array<B>,
  read: () => Promise<Uint8Array<B> | null>,
): Promise<{ size: PpmSize; rest: Uint8Array<B> } | null> {
  scanner.reset(at);
  for (;;) {
    if (carry.length === 0) {
      const more = await read();
      if (more === null) {
        if (scanner.length === 0) return null;
        throw new SyntaxError(
          `PPM stream: ended inside a frame header at byte ${at + scanner.length}`,
        );
      }
      carry = more;
    }
    carry = carry.subarray(scanner.push(carry));
    if (scanner.size !== null) return { size: scanner.size, rest: carry };
  }
}
