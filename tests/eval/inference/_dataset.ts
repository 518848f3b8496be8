/**
 * A tiny DAVIS-style video for the inference tests: `n` JPEG frames with two full-height bands
 * of object ids 1 and 3 on frame 0, whose edges lie on multiples of 4 pixels at the model's
 * 128x128 input, so the mask-as-output path (antialiased x4 down, bilinear x4 up, as the
 * reference) reproduces them exactly. (Corners would not survive it: the reference rounds
 * them off the same way.)
 */
import { encodeRgbJpeg } from "../../../src/data/mod.ts";
import { writePredictionMasks } from "../../../src/eval/mod.ts";

export const MINI = new URL("../../../../shared/fixtures/sam2-mini/model.pt", import.meta.url)
  .pathname;
export const MINI_CONFIG = new URL("../../../configs/mini.yaml", import.meta.url).pathname;

/** Object id -> [x0, y0, x1, y1) of its rectangle on a `size`-pixel square frame. */
export function rects(size: number): Map<number, [number, number, number, number]> {
  const u = size / 32; // one low-res cell of the 128 model input, in video pixels
  return new Map([[1, [4 * u, 0, 16 * u, size]], [3, [20 * u, 0, 28 * u, size]]]);
}

/** Binary masks of {@link rects}. */
export function rectMasks(size: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const [id, [x0, y0, x1, y1]] of rects(size)) {
    const m = new Uint8Array(size * size);
    for (let y = y0; y < y1; y++) m.fill(1, y * size + x0, y * size + x1);
    out.set(id, m);
  }
  return out;
}

/**
 * Writes `<root>/JPEGImages/<video>/<i:05d>.jpg` (rectangles drifting right by one pixel a
 * frame) and `<root>/Annotations/<video>/00000.png` (frame 0 only).
 */
export async function writeRectVideo(root: string, video: string, n: number, size: number) {
  const dir = `${root}/JPEGImages/${video}`;
  await Deno.mkdir(dir, { recursive: true });
  for (let t = 0; t < n; t++) {
    const data = new Uint8Array(size * size * 3).fill(40);
    for (const [id, [x0, y0, x1, y1]] of rects(size)) {
      for (let y = y0; y < y1; y++) {
        for (let x = x0 + t; x < Math.min(x1 + t, size); x++) {
          data.set(id === 1 ? [220, 60, 60] : [60, 200, 90], (y * size + x) * 3);
        }
      }
    }
    const jpg = await encodeRgbJpeg({ width: size, height: size, data }, { quality: 95 });
    await Deno.writeFile(`${dir}/${String(t).padStart(5, "0")}.jpg`, jpg);
  }
  await writePredictionMasks(`${root}/Annotations`, video, "00000", rectMasks(size), {
    width: size,
    height: size,
  });
}
