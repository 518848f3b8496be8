/**
 * JPEG encoding of decoded frames with libjpeg-turbo (through `sharp`), on the IJG quality
 * scale that OpenCV's `cv2.imwrite` uses: quality 95, baseline, standard (Annex K) tables
 * scaled by quality, 4:2:0 chroma, no Huffman optimisation. This is the reference SA-V
 * script's writer, so the same RGB frames give the same JPEG bytes.
 *
 * @module
 */
import sharp from "sharp";
import type { RgbFrame } from "./ppm_stream.ts";

/** Which encoder wrote the frames; stored in the completion marker. */
export const JPEG_ENCODER = "libjpeg-turbo (sharp, 4:2:0, baseline)";

// One libvips worker thread per image: parallelism comes from many frames in flight.
sharp.concurrency(1);
sharp.cache(false);

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
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
