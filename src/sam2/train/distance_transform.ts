/**
 * The exact Euclidean distance transform that OpenCV's
 * `cv2.distanceTransform(src, cv2.DIST_L2, 0)` (mask size 0 = `DIST_MASK_PRECISE`) computes,
 * which the reference's error-center click sampling is built on.
 *
 * @module
 */

/** A row-major single-channel image whose non-zero pixels are "inside". */
export interface BinaryImage {
  /** Row-major [height, width]; non-zero = inside. */
  data: ArrayLike<number>;
  height: number;
  width: number;
}

/**
 * The squared distance OpenCV gives a pixel whose column holds no zero pixel at all (its
 * `inf` of 1e15 as a float32). Such pixels then take their distance from other columns; a
 * pixel of an image with no zero anywhere ends at `sqrt(1e15)` like OpenCV's.
 */
const NO_ZERO_IN_COLUMN = Math.fround(1e15);

/**
 * Distance of every inside (non-zero) pixel to the nearest outside (zero) pixel, 0 on outside
 * pixels, as float32 like OpenCV's output. The algorithm is Felzenszwalb & Huttenlocher's
 * (2012) two-pass lower envelope of parabolas, the one OpenCV uses for its precise mask: a
 * column pass gives each pixel its squared vertical distance to a zero, a row pass takes the
 * minimum of `(x - x')² + column²(x')` over the row. Squared distances are integers and are
 * kept exact in float64; only the final square root is rounded to float32, so the values equal
 * OpenCV's for any image whose squared distances stay below 2^24.
 *
 * @example
 * ```ts
 * const d = distanceTransformL2({ data: [0, 1, 1, 1, 0], height: 1, width: 5 });
 * // d = [0, 1, 2, 1, 0]
 * ```
 * @param image The mask; `data.length` must equal `height * width`.
 * @returns Float32Array [height, width] of distances.
 * @throws {RangeError} When the size is not a pair of non-negative integers matching `data`.
 */
export function distanceTransformL2(image: BinaryImage): Float32Array {
  const { data, height: h, width: w } = image;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) {
    throw new RangeError(`distanceTransformL2(): size must be non-negative integers: ${h}x${w}`);
  }
  if (data.length !== h * w) {
    throw new RangeError(
      `distanceTransformL2(): data has ${data.length} values, expected ${h}x${w}=${h * w}`,
    );
  }
  // Column pass, row by row (cache friendly): vertical distance to the nearest zero above, then
  // improved from below; a column without zeros keeps Infinity.
  const sq = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const i = row + x;
      sq[i] = !data[i] ? 0 : y === 0 ? Infinity : sq[i - w] + 1;
    }
  }
  for (let y = h - 2; y >= 0; y--) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const i = row + x, below = sq[i + w] + 1;
      if (below < sq[i]) sq[i] = below;
    }
  }
  for (let i = 0; i < h * w; i++) sq[i] = sq[i] === Infinity ? NO_ZERO_IN_COLUMN : sq[i] * sq[i];
  // Row pass: lower envelope of the parabolas (q - p)² + f[p].
  const f = new Float64Array(w), v = new Int32Array(w), z = new Float64Array(w + 1);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let inside = false;
    for (let x = 0; x < w; x++) {
      f[x] = sq[row + x];
      if (f[x] > 0) inside = true;
    }
    if (!inside) continue; // all outside: the row stays 0
    let k = 0;
    v[0] = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    for (let q = 1; q < w; q++) {
      let s: number;
      for (;;) {
        const p = v[k];
        s = (f[q] + q * q - f[p] - p * p) / (2 * (q - p));
        if (s > z[k] || k === 0) break;
        k--;
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let q = 0; q < w; q++) {
      while (z[k + 1] < q) k++;
      const p = v[k];
      out[row + q] = Math.sqrt((q - p) * (q - p) + f[p]);
    }
  }
  return out;
}
