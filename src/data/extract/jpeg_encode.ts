/**
 * JPEG encoding of decoded frames with libjpeg-turbo (through `sharp`), on the IJG quality
 * scale that OpenCV's `cv2.imwrite` uses: quality 95, baseline, standard (Annex K) tables
 * scaled by quality, 4:2:0 chroma, no Huffman optimisation. This is the reference SA-V
 * script's writer. libvips leaves out the JFIF APP0 segment that libjpeg (and so OpenCV)
 * writes; it is put back, so the same RGB frame gives byte-for-byte the file `cv2.imwrite`
 * writes (checked against Debian's OpenCV 4.6: `deno task bench extract` re-checks it when
 * python3 with cv2 is installed).
 *
 * @module
 */
import sharp from "sharp";
import type { RgbFrame } from "./ppm_stream.ts";

/** Which encoder wrote the frames; stored in the completion marker. */
export const JPEG_ENCODER = "libjpeg-turbo (sharp), baseline, 4:2:0, JFIF";

// Parallelism comes from many frames in flight (libuv's pool); sharp's global settings
// (concurrency, cache) are left alone since other modules share them.

/** Checks that `quality` is an integer in 1..100 (the IJG scale), else throws RangeError. */
export function checkQuality(quality: number): void {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`JPEG quality must be an integer from 1 to 100: got ${quality}`);
  }
}

/** Encodes one RGB frame to JPEG bytes at IJG `quality` (1..100). */
export async function encodeJpeg(frame: RgbFrame, quality: number): Promise<Uint8Array> {
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
