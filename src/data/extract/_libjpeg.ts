/**
 * JPEG encoding straight through the system's libjpeg-turbo (`libjpeg.so.62`, the library
 * OpenCV links on Debian/Ubuntu) with Deno's FFI: the same library calls `cv2.imwrite` makes
 * (defaults, `jpeg_set_quality(q, TRUE)`, 4:2:0, JFIF header), without libvips' pipeline
 * around them. Measured on 848x480 frames it takes about half the CPU time of the same
 * encode through sharp, which is a large part of extraction's cost beyond decoding.
 *
 * Only {@linkcode openLibjpeg} is meant for `jpeg_encode.ts`, which checks this encoder
 * against sharp's bytes before using it and falls back to sharp when the library (or FFI
 * permission) is missing.
 *
 * Layout constants are those of the libjpeg 6.2 ABI on 64-bit Linux
 * (`struct jpeg_compress_struct`: 520 bytes; libjpeg-turbo keeps this ABI under the
 * `.so.62` name, so opening exactly that name pins the layout).
 *
 * @module
 */
import type { RgbFrame } from "./ppm_stream.ts";
import { type Libc, openLibc } from "../../util/_libc.ts";

const SYMBOLS = {
  jpeg_std_error: { parameters: ["buffer"], result: "pointer" },
  jpeg_CreateCompress: { parameters: ["buffer", "i32", "usize"], result: "void" },
  jpeg_set_defaults: { parameters: ["buffer"], result: "void" },
  jpeg_set_quality: { parameters: ["buffer", "i32", "i32"], result: "void" },
  jpeg_mem_dest: { parameters: ["buffer", "buffer", "buffer"], result: "void" },
  jpeg_start_compress: { parameters: ["buffer", "i32"], result: "void" },
  // The pixel work (colour conversion, DCT, Huffman) happens here: run it off the main
  // thread so reading ffmpeg's pipe and encoding overlap.
  jpeg_write_scanlines: {
    parameters: ["buffer", "buffer", "u32"],
    result: "u32",
    nonblocking: true,
  },
  jpeg_finish_compress: { parameters: ["buffer"], result: "void" },
  jpeg_destroy_compress: { parameters: ["buffer"], result: "void" },
} as const;

/** `sizeof(struct jpeg_compress_struct)` and field offsets, libjpeg 6.2 ABI, LP64. */
const CINFO_SIZE = 520;
const OFF_ERR = 0;
const OFF_WIDTH = 48;
const OFF_HEIGHT = 52;
const OFF_COMPONENTS = 56;
const OFF_COLOR_SPACE = 60;
const OFF_NEXT_SCANLINE = 304;
const ERROR_MGR_SIZE = 168;
const JPEG_LIB_VERSION = 62;
const JCS_RGB = 2;
/** libjpeg's largest image side; beyond it libjpeg would call its fatal error handler. */
const JPEG_MAX_DIMENSION = 65500;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** One `jpeg_compress_struct` with its buffers, reused frame after frame. */
class Compressor {
  // Extra room past the struct: only libjpeg writes there.
  readonly cinfo = new Uint8Array(CINFO_SIZE + 64);
  readonly err = new Uint8Array(ERROR_MGR_SIZE + 64);
  readonly outPtr = new BigUint64Array(1);
  readonly outSize = new BigUint64Array(1);
  out = new Uint8Array(0);
  rows = new BigUint64Array(0);
  readonly view = new DataView(this.cinfo.buffer);

  constructor(readonly lib: Lib, readonly libc: Libc) {
    const errPtr = lib.jpeg_std_error(this.err);
    lib.jpeg_CreateCompress(this.cinfo, JPEG_LIB_VERSION, BigInt(CINFO_SIZE));
    this.view.setBigUint64(OFF_ERR, Deno.UnsafePointer.value(errPtr) as bigint, true);
  }

  async encode(frame: RgbFrame, quality: number): Promise<Uint8Array> {
    const { width, height, data } = frame;
    const lib = this.lib, v = this.view;
    v.setUint32(OFF_WIDTH, width, true);
    v.setUint32(OFF_HEIGHT, height, true);
    v.setInt32(OFF_COMPONENTS, 3, true);
    v.setInt32(OFF_COLOR_SPACE, JCS_RGB, true);
    lib.jpeg_set_defaults(this.cinfo);
    lib.jpeg_set_quality(this.cinfo, quality, 1);
    // An output buffer of the raw frame's size (plus headers) holds any JPEG of quality
    // below 100 in practice; when one does not fit, libjpeg mallocs a bigger one (freed below).
    const capacity = width * height * 3 + 4096;
    if (this.out.length < capacity) this.out = new Uint8Array(capacity);
    const own = Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.out)) as bigint;
    this.outPtr[0] = own;
    this.outSize[0] = BigInt(this.out.length);
    lib.jpeg_mem_dest(this.cinfo, this.outPtr, this.outSize);
    lib.jpeg_start_compress(this.cinfo, 1);
    if (this.rows.length < height) this.rows = new BigUint64Array(height);
    // Row pointers as 32-bit halves (no BigInt per row): user-space addresses fit in 53 bits.
    const base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(data)));
    const halves = new Uint32Array(this.rows.buffer, 0, height * 2);
    for (let y = 0, p = base, stride = width * 3; y < height; y++, p += stride) {
      halves[2 * y] = p % 0x100000000;
      halves[2 * y + 1] = Math.floor(p / 0x100000000);
    }
    // One call normally takes every row; loop in case the library stops early.
    let done = 0;
    while (done < height) {
      const n = await lib.jpeg_write_scanlines(
        this.cinfo,
        this.rows.subarray(done),
        height - done,
      );
      if (n === 0) throw new Error("libjpeg accepted no scanlines");
      done = v.getUint32(OFF_NEXT_SCANLINE, true);
    }
    lib.jpeg_finish_compress(this.cinfo);
    const size = Number(this.outSize[0]);
    const got = this.outPtr[0];
    if (got === own) return this.out.slice(0, size);
    // libjpeg outgrew our buffer and wrote into memory it malloc'ed: copy out and free it.
    const ptr = Deno.UnsafePointer.create(got)!;
    const bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, size)).slice();
    this.libc.free(ptr);
    return bytes;
  }
}

/** A pool of libjpeg compressors: one per encode in flight, created on demand. */
export interface LibjpegEncoder {
  /** Encodes one RGB frame at IJG `quality` like `cv2.imwrite` (JFIF, 4:2:0, baseline). */
  encode(frame: RgbFrame, quality: number): Promise<Uint8Array>;
}

/**
 * Opens `libjpeg.so.62` and libc through FFI; null when either is missing, the process has
 * no FFI permission, or the library lacks `jpeg_mem_dest` (only libjpeg-turbo has it in the
 * 6.2 ABI: plain IJG libjpeg 6b is not used).
 */
export function openLibjpeg(): LibjpegEncoder | null {
  const libc = openLibc();
  if (libc === null) return null;
  let lib: Lib;
  try {
    lib = Deno.dlopen("libjpeg.so.62", SYMBOLS).symbols;
  } catch {
    return null;
  }
  const idle: Compressor[] = [];
  return {
    async encode(frame: RgbFrame, quality: number): Promise<Uint8Array> {
      if (
        frame.width > JPEG_MAX_DIMENSION || frame.height > JPEG_MAX_DIMENSION ||
        frame.data.length < frame.width * frame.height * 3
      ) {
        throw new RangeError(
          `Frame of ${frame.width}x${frame.height} (${frame.data.length} bytes) cannot be ` +
            `encoded: JPEG sides are at most ${JPEG_MAX_DIMENSION} and RGB needs 3 bytes a pixel`,
        );
      }
      const c = idle.pop() ?? new Compressor(lib, libc);
      let bytes: Uint8Array;
      try {
        bytes = await c.encode(frame, quality);
      } catch (e) {
        // A compressor that failed midway is in an unknown state: drop it.
        lib.jpeg_destroy_compress(c.cinfo);
        throw e;
      }
      idle.push(c);
      return bytes;
    },
  };
}
