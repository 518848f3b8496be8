/**
 * JPEG encoding of decoded frames with libjpeg-turbo, on the IJG quality scale that OpenCV's
 * `cv2.imwrite` uses: quality 95, baseline, standard (Annex K) tables scaled by quality,
 * 4:2:0 chroma, no Huffman optimisation. This is the reference SA-V script's writer.
 *
 * Two back ends give the same bytes:
 * - `"libjpeg"`: the system's `libjpeg.so.62` (libjpeg-turbo, what OpenCV links) through
 *   Deno's FFI (`_libjpeg.ts`), about half sharp's CPU time per frame;
 * - `"sharp"`: libvips' jpegsave through `sharp`. libvips leaves out the JFIF APP0 segment
 *   that libjpeg (and so OpenCV) writes; it is put back.
 *
 * The first encode checks the libjpeg back end on a test frame against the SHA-256 of the
 * bytes `cv2.imencode` (OpenCV 4.6, Debian) and sharp write for it, and uses it only when they
 * agree (else, or without the library or FFI permission, sharp, which is loaded only then).
 * Either way the same RGB frame gives byte-for-byte the file `cv2.imwrite` writes
 * (`deno task bench extract` and tests/data/extract/jpeg_encode_test.ts re-check it on video
 * frames when python3 with cv2 is installed).
 *
 * @module
 */
import type { RgbFrame } from "./ppm_stream.ts";
import { type LibjpegEncoder, openLibjpeg } from "./_libjpeg.ts";

/**
 * Which encoding the frames have; stored in the completion marker. Both back ends write
 * these same bytes, so the value (from when sharp was the only one) is kept: changing it
 * would make every finished extraction look stale.
 */
export const JPEG_ENCODER = "libjpeg-turbo (sharp), baseline, 4:2:0, JFIF";

/** The library that encodes: the system libjpeg-turbo through FFI, or sharp (libvips). */
export type JpegBackend = "libjpeg" | "sharp";

/** Options of {@linkcode encodeJpeg}. */
export interface EncodeJpegOptions {
  /** Force a back end (tests, benchmarks). @default {the one {@linkcode jpegBackend} picks} */
  backend?: JpegBackend;
}

// Parallelism comes from many frames in flight (libjpeg calls on Deno's blocking-thread
// pool, or libuv's pool for sharp); sharp's global settings (concurrency, cache) are left
// alone since other modules share them.

/** Checks that `quality` is an integer in 1..100 (the IJG scale), else throws RangeError. */
export function checkQuality(quality: number): void {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`JPEG quality must be an integer from 1 to 100: got ${quality}`);
  }
}

let libjpeg: LibjpegEncoder | null | undefined;
let chosen: Promise<JpegBackend> | null = null;

/** A deterministic test frame with odd sides (partial MCUs) and texture. */
function probeFrame(): RgbFrame {
  const width = 37, height = 29;
  const data = new Uint8Array(width * height * 3);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = ((i % 255) + (s >>> 24)) & 255;
  }
  return { width, height, data };
}

/**
 * SHA-256 of `cv2.imencode(".jpg", probeFrame as BGR, [IMWRITE_JPEG_QUALITY, q])` (OpenCV 4.6
 * with libjpeg-turbo 2.1.5); sharp writes the same bytes.
 */
const PROBE_SHA256: Record<number, string> = {
  95: "750e4c1af00c326bc8e409dafcb40c4aa947163610c0d699e4e55e303c77c37f",
  75: "25168b3003d2528622166c2ad51b8cb96f7b91e5763cd5496bddbefeeea7751d",
};

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return [...d].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * The back end {@linkcode encodeJpeg} uses: `"libjpeg"` when `libjpeg.so.62` loads and
 * encodes a test frame at qualities 95 and 75 to exactly OpenCV's (and sharp's) bytes, else
 * `"sharp"`. Decided once per process.
 */
export function jpegBackend(): Promise<JpegBackend> {
  chosen ??= (async (): Promise<JpegBackend> => {
    libjpeg ??= openLibjpeg();
    if (libjpeg === null) return "sharp";
    const f = probeFrame();
    try {
      for (const [q, want] of Object.entries(PROBE_SHA256)) {
        if (await sha256Hex(await libjpeg.encode(f, Number(q))) !== want) return "sharp";
      }
      return "libjpeg";
    } catch {
      return "sharp";
    }
  })();
  return chosen;
}

/** Encodes one RGB frame to JPEG bytes at IJG `quality` (1..100). */
export async function encodeJpeg(
  frame: RgbFrame,
  quality: number,
  opts: EncodeJpegOptions = {},
): Promise<Uint8Array> {
  const backend = opts.backend ?? await jpegBackend();
  if (backend === "libjpeg") {
    libjpeg ??= openLibjpeg();
    if (libjpeg === null) {
      throw new Error(
        `JPEG back end "libjpeg" is not available: libjpeg.so.62 (libjpeg-turbo) did not ` +
          `load or FFI is not permitted; install libjpeg62-turbo or use "sharp"`,
      );
    }
    return await libjpeg.encode(frame, quality);
  }
  return await encodeWithSharp(frame, quality);
}

// sharp (libvips, ~0.2 s of CPU to load) is imported only when it is used.
let sharpModule: Promise<typeof import("sharp")> | null = null;

async function encodeWithSharp(frame: RgbFrame, quality: number): Promise<Uint8Array> {
  sharpModule ??= import("sharp");
  const sharp = (await sharpModule).default;
  const buf = await sharp(frame.data, {
    raw: { width: frame.width, height: frame.height, channels: 3 },
  })
    .jpeg({
      quality,
      chromaSubsampling: "4:2:0",
      optimiseCoding: false,
      progressive: false,
      mozjpeg: false,
      trellisQuantisation: false,
      overshootDeringing: false,
      optimiseScans: false,
      quantisationTable: 0,
    })
    .toBuffer();
  return withJfifHeader(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
}

/** libjpeg's default APP0: JFIF 1.01, no density unit, aspect 1:1, no thumbnail. */
const JFIF_APP0 = new Uint8Array([
  0xff,
  0xe0,
  0x00,
  0x10,
  0x4a,
  0x46,
  0x49,
  0x46,
  0x00,
  0x01,
  0x01,
  0x00,
  0x00,
  0x01,
  0x00,
  0x01,
  0x00,
  0x00,
]);

/** Inserts {@linkcode JFIF_APP0} after SOI when the stream has no APP0 of its own. */
export function withJfifHeader(jpeg: Uint8Array): Uint8Array {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return jpeg;
  if (jpeg[2] === 0xff && jpeg[3] === 0xe0) return jpeg;
  const out = new Uint8Array(jpeg.length + JFIF_APP0.length);
  out.set(jpeg.subarray(0, 2), 0);
  out.set(JFIF_APP0, 2);
  out.set(jpeg.subarray(2), 2 + JFIF_APP0.length);
  return out;
}
