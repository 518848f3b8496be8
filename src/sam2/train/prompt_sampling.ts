/**
 * Host-side prompt samplers with the reference's semantics (sam2/modeling/sam2_utils.py,
 * sam2/utils/misc.py), drawing from a caller-supplied uniform source instead of torch's global
 * generator.
 *
 * @module
 */
import type { HostPoints, MaskBatch } from "./train_random.ts";

/**
 * `sample_random_points_from_errors` with one point per object: the reference takes the argmax
 * of U(0,1) noise over the FP map (negative label) and the FN map (positive label), i.e. a
 * uniform pick among the eligible (pixel, channel) entries; when the prediction is exactly right
 * the background counts as FP. With nothing eligible the argmax of all-zero noise is entry 0:
 * pixel (0, 0) with label 0. `pred` null means an empty prediction ("from GT only").
 */
export function sampleRandomPointsFromErrors(
  gt: MaskBatch,
  pred: Uint8Array | null,
  uniform: () => number,
): HostPoints {
  const { numObjects: o, height: h, width: w } = gt;
  const hw = h * w;
  const coords = new Float32Array(o * 2), labels = new Int32Array(o);
  for (let b = 0; b < o; b++) {
    const g = gt.data.subarray(b * hw, (b + 1) * hw);
    const p = pred ? pred.subarray(b * hw, (b + 1) * hw) : null;
    let allCorrect = true;
    for (let i = 0; i < hw && allCorrect; i++) {
      if ((g[i] > 0) !== ((p?.[i] ?? 0) > 0)) allCorrect = false;
    }
    // Entry 2i = FP channel of pixel i, 2i+1 = FN channel (the reference's flattening order).
    const eligible = (e: number): boolean => {
      const i = e >> 1, gi = g[i] > 0, pi = (p?.[i] ?? 0) > 0;
      return (e & 1) === 0 ? (!gi && pi) || (allCorrect && !gi) : gi && !pi;
    };
    let count = 0;
    for (let e = 0; e < 2 * hw; e++) if (eligible(e)) count++;
    let pick = 0;
    if (count > 0) {
      let k = Math.min(count - 1, Math.floor(uniform() * count));
      for (let e = 0; e < 2 * hw; e++) {
        if (eligible(e) && k-- === 0) {
          pick = e;
          break;
        }
      }
    }
    labels[b] = pick & 1;
    const pix = pick >> 1;
    coords[2 * b] = pix % w;
    coords[2 * b + 1] = Math.floor(pix / w);
  }
  return { coords, labels, numObjects: o, numPoints: 1 };
}

/**
 * `mask_to_box`: (min x, min y, max x, max y) of each mask; an empty mask gives (W, H, -1, -1)
 * exactly as the reference (quirk 11), which later yields an inverted box.
 */
export function maskToBox(m: MaskBatch): Int32Array {
  const { numObjects: o, height: h, width: w } = m;
  const out = new Int32Array(o * 4);
  for (let b = 0; b < o; b++) {
    let x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (m.data[b * h * w + y * w + x] > 0) {
          x0 = Math.min(x0, x), x1 = Math.max(x1, x);
          y0 = Math.min(y0, y), y1 = Math.max(y1, y);
        }
      }
    }
    out.set([x0, y0, x1, y1], b * 4);
  }
  return out;
}

/**
 * `sample_box_points` (noise 0.1, bound 20 px): each corner coordinate moves by
 * U(-1,1)·min(0.1·size, 20), then is clamped to the image, in float32 like the reference.
 */
export function sampleBoxPoints(m: MaskBatch, uniform: () => number): HostPoints {
  const o = m.numObjects, f = Math.fround;
  const box = maskToBox(m);
  const coords = new Float32Array(o * 4), labels = new Int32Array(o * 2);
  for (let b = 0; b < o; b++) {
    const [x0, y0, x1, y1] = box.subarray(b * 4, b * 4 + 4);
    const dx = Math.min(f((x1 - x0) * f(0.1)), 20), dy = Math.min(f((y1 - y0) * f(0.1)), 20);
    const scale = [dx, dy, dx, dy], bound = [m.width - 1, m.height - 1];
    [x0, y0, x1, y1].forEach((v, i) => {
      const noise = f(f(2 * f(uniform())) - 1);
      const moved = f(v + f(noise * scale[i]));
      coords[b * 4 + i] = Math.min(Math.max(moved, 0), bound[i % 2]);
    });
    labels.set([2, 3], b * 2);
  }
  return { coords, labels, numObjects: o, numPoints: 2 };
}
