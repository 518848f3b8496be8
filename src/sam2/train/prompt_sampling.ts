/**
 * Host-side prompt samplers with the reference's semantics (sam2/modeling/sam2_utils.py,
 * sam2/utils/misc.py), drawing from a caller-supplied uniform source instead of torch's global
 * generator.
 *
 * @module
 */
import { distanceTransformL2 } from "./distance_transform.ts";
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

/** Options for {@linkcode sampleOnePointFromErrorCenter}. */
export interface ErrorCenterOptions {
  /**
   * Surround each error map with a 1-pixel background border before the distance transform,
   * so that the image edge counts as a region boundary (the reference's `padding=True`).
   * @default true
   */
  padding?: boolean;
}

/**
 * `sample_one_point_from_error_center` (the RITM click): per object, the pixel of the false
 * negative (GT on, prediction off) or false positive (GT off, prediction on) region farthest
 * from that region's boundary, by the exact Euclidean distance transform (OpenCV's
 * `distanceTransform(DIST_L2, 0)`). The click is positive when the FN maximum is strictly larger
 * than the FP maximum; within a map the first pixel in row-major order wins a tie (numpy's
 * `argmax`). With no error at all both maxima are 0 and the click is pixel (0, 0), negative.
 * It uses no randomness. `pred` null means an empty prediction ("from GT only").
 *
 * @example
 * ```ts
 * const gt = { data: Uint8Array.from([0, 1, 1, 1, 0]), numObjects: 1, height: 1, width: 5 };
 * const p = sampleOnePointFromErrorCenter(gt, null);
 * // p.coords = [2, 0] (x, y), p.labels = [1]
 * ```
 * @param gt Ground truth [O, H, W].
 * @param pred Current prediction [O, H, W] as 0/1, or null.
 * @returns One click per object: coords [O, 1, 2] (x, y), labels [O, 1].
 * @throws {RangeError} When `pred` does not hold O·H·W values.
 */
export function sampleOnePointFromErrorCenter(
  gt: MaskBatch,
  pred: Uint8Array | null,
  options: ErrorCenterOptions = {},
): HostPoints {
  const { numObjects: o, height: h, width: w } = gt;
  const pad = (options.padding ?? true) ? 1 : 0;
  const hw = h * w;
  if (hw === 0) throw new RangeError(`sampleOnePointFromErrorCenter(): empty ${h}x${w} masks`);
  if (pred && pred.length !== o * hw) {
    throw new RangeError(
      `sampleOnePointFromErrorCenter(): pred has ${pred.length} values, expected ${o}x${h}x${w}`,
    );
  }
  const ph = h + 2 * pad, pw = w + 2 * pad;
  const fn = new Uint8Array(ph * pw), fp = new Uint8Array(ph * pw);
  const coords = new Float32Array(o * 2), labels = new Int32Array(o);
  for (let b = 0; b < o; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const g = gt.data[b * hw + y * w + x] > 0, p = (pred?.[b * hw + y * w + x] ?? 0) > 0;
        const j = (y + pad) * pw + x + pad;
        fn[j] = g && !p ? 1 : 0;
        fp[j] = !g && p ? 1 : 0;
      }
    }
    const fnMax = argmaxInside(distanceTransformL2({ data: fn, height: ph, width: pw }));
    const fpMax = argmaxInside(distanceTransformL2({ data: fp, height: ph, width: pw }));
    const positive = fnMax.value > fpMax.value;
    const pix = positive ? fnMax.index : fpMax.index;
    coords[2 * b] = pix % w;
    coords[2 * b + 1] = Math.floor(pix / w);
    labels[b] = positive ? 1 : 0;
  }
  return { coords, labels, numObjects: o, numPoints: 1 };

  /** First maximum of the unpadded part, as an index into the [H, W] map. */
  function argmaxInside(d: Float32Array): { index: number; value: number } {
    let index = 0, value = -Infinity;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = d[(y + pad) * pw + x + pad];
        if (v > value) value = v, index = y * w + x;
      }
    }
    return { index, value };
  }
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
