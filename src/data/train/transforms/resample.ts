import { hostBufferPool } from "../buffer_pool.ts";

/**
 * Pixel resampling on CPU typed arrays with PIL's conventions: pixel centres at +0.5,
 * separable resize with a triangle (bilinear) filter widened by the downscale factor
 * (antialiasing, as PIL and torchvision's `antialias=True`), results rounded to uint8 after
 * each pass, and affine warps that map output to input through an inverse matrix.
 *
 * @module
 */

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  maxTaps: number;
}

/** PIL `precompute_coeffs` for the bilinear (triangle) filter. */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale; // triangle support 1.0
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) / filterscale);
      const w = t < 1 ? 1 - t : 0;
      weights[xx * maxTaps + x] = w;
      ww += w;
    }
    if (ww !== 0) { for (let x = 0; x < xmax; x++) weights[xx * maxTaps + x] /= ww; }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, maxTaps };
}

/**
 * Resizes an interleaved uint8 image of `c` channels (horizontal pass, then vertical, each
 * rounded to uint8 like PIL). `threshold` turns the result into 0/1 (masks).
 */
export function resizeBytes(
  src: Uint8Array,
  w: number,
  h: number,
  c: number,
  ow: number,
  oh: number,
): Uint8Array {
  let tmp = src, tw = w;
  if (ow !== w) {
    const t = taps(w, ow);
    tmp = hostBufferPool.u8(ow * h * c);
    const { start, count, weights, maxTaps } = t;
    for (let y = 0; y < h; y++) {
      const row = y * w * c, orow = y * ow * c;
      if (c === 3) {
        for (let x = 0; x < ow; x++) {
          const n = count[x], wo = x * maxTaps;
          let p = row + start[x] * 3;
          let a0 = 0.5, a1 = 0.5, a2 = 0.5;
          for (let k = 0; k < n; k++, p += 3) {
            const wk = weights[wo + k];
            a0 += wk * src[p];
            a1 += wk * src[p + 1];
            a2 += wk * src[p + 2];
          }
          const o = orow + x * 3;
          tmp[o] = a0 < 0 ? 0 : a0 > 255 ? 255 : a0;
          tmp[o + 1] = a1 < 0 ? 0 : a1 > 255 ? 255 : a1;
          tmp[o + 2] = a2 < 0 ? 0 : a2 > 255 ? 255 : a2;
        }
      } else if (c === 1) {
        for (let x = 0; x < ow; x++) {
          const n = count[x], wo = x * maxTaps, p = row + start[x];
          let a = 0.5;
          for (let k = 0; k < n; k++) a += weights[wo + k] * src[p + k];
          tmp[orow + x] = a < 0 ? 0 : a > 255 ? 255 : a;
        }
      } else {
        for (let x = 0; x < ow; x++) {
          const s = start[x], n = count[x], wo = x * maxTaps;
          for (let ch = 0; ch < c; ch++) {
            let acc = 0.5;
            for (let k = 0; k < n; k++) acc += weights[wo + k] * src[row + (s + k) * c + ch];
            tmp[orow + x * c + ch] = acc < 0 ? 0 : acc > 255 ? 255 : acc;
          }
        }
      }
    }
    tw = ow;
  }
  if (oh === h) {
    if (tmp !== src) return tmp;
    const copy = hostBufferPool.u8(src.length);
    copy.set(src);
    return copy;
  }
  const t = taps(h, oh);
  const out = hostBufferPool.u8(ow * oh * c);
  const rowLen = tw * c;
  let acc: Float32Array | null = null;
  const rows: number[] = [], ws: number[] = [];
  for (let y = 0; y < oh; y++) {
    const s = t.start[y], n = t.count[y], wo = y * t.maxTaps, orow = y * rowLen;
    rows.length = 0;
    ws.length = 0;
    for (let k = 0; k < n; k++) {
      const wk = t.weights[wo + k];
      if (wk !== 0) {
        rows.push((s + k) * rowLen);
        ws.push(wk);
      }
    }
    if (rows.length === 1) {
      // weight 1 after normalisation: a copy
      out.set(tmp.subarray(rows[0], rows[0] + rowLen), orow);
    } else if (rows.length === 2) {
      const r0 = rows[0], r1 = rows[1], w0 = ws[0], w1 = ws[1];
      for (let i = 0; i < rowLen; i++) {
        const v = w0 * tmp[r0 + i] + w1 * tmp[r1 + i] + 0.5;
        out[orow + i] = v > 255 ? 255 : v;
      }
    } else if (rows.length === 3) {
      const r0 = rows[0], r1 = rows[1], r2 = rows[2], w0 = ws[0], w1 = ws[1], w2 = ws[2];
      for (let i = 0; i < rowLen; i++) {
        const v = w0 * tmp[r0 + i] + w1 * tmp[r1 + i] + w2 * tmp[r2 + i] + 0.5;
        out[orow + i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    } else {
      acc ??= new Float32Array(rowLen);
      acc.fill(0.5);
      for (let k = 0; k < rows.length; k++) {
        const r = rows[k], wk = ws[k];
        for (let i = 0; i < rowLen; i++) acc[i] += wk * tmp[r + i];
      }
      for (let i = 0; i < rowLen; i++) {
        const v = acc[i];
        out[orow + i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  if (tmp !== src) hostBufferPool.release(tmp);
  return out;
}

/**
 * Float version of {@linkcode resizeBytes} for one plane (no rounding): the same filter as
 * torch `interpolate(bilinear, align_corners=False, antialias=True)`, which for upscaling
 * equals plain bilinear. Used to check the filter against PyTorch.
 */
export function resizePlaneF32(
  src: Float32Array | Float64Array,
  w: number,
  h: number,
  ow: number,
  oh: number,
): Float64Array {
  const th = taps(w, ow), tv = taps(h, oh);
  const tmp = new Float64Array(ow * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      let acc = 0;
      for (let k = 0; k < th.count[x]; k++) {
        acc += th.weights[x * th.maxTaps + k] * src[y * w + th.start[x] + k];
      }
      tmp[y * ow + x] = acc;
    }
  }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let acc = 0;
      for (let k = 0; k < tv.count[y]; k++) {
        acc += tv.weights[y * tv.maxTaps + k] * tmp[(tv.start[y] + k) * ow + x];
      }
      out[y * ow + x] = acc;
    }
  }
  return out;
}

/** torchvision `_get_inverse_affine_matrix`: output -> input coordinates, 2x3 row-major. */
export function inverseAffineMatrix(
  center: [number, number],
  angle: number,
  translate: [number, number],
  scale: number,
  shear: [number, number],
): number[] {
  const rot = (angle * Math.PI) / 180;
  const sx = (shear[0] * Math.PI) / 180, sy = (shear[1] * Math.PI) / 180;
  const [cx, cy] = center, [tx, ty] = translate;
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const m = [d, -b, 0, -c, a, 0].map((x) => x / scale);
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

/** Affine warp of an RGB image (PIL `Image.transform(AFFINE)`), bilinear or bicubic, with fill. */
export function affineRgb(
  src: Uint8Array,
  w: number,
  h: number,
  m: number[],
  fill: [number, number, number],
  interpolation: "bilinear" | "bicubic",
): Uint8Array {
  const out = hostBufferPool.u8(w * h * 3);
  const cub = (t: number) => {
    // PIL bicubic kernel, a = -0.5
    const x = Math.abs(t);
    if (x < 1) return ((1.5 * x - 2.5) * x) * x + 1;
    if (x < 2) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
    return 0;
  };
  for (let y = 0; y < h; y++) {
    const yo = y + 0.5;
    let xin = m[0] * 0.5 + m[1] * yo + m[2] - 0.5;
    let yin = m[3] * 0.5 + m[4] * yo + m[5] - 0.5;
    for (let x = 0; x < w; x++, xin += m[0], yin += m[3]) {
      const o = (y * w + x) * 3;
      if (xin < -1 || xin >= w || yin < -1 || yin >= h) {
        out[o] = fill[0];
        out[o + 1] = fill[1];
        out[o + 2] = fill[2];
        continue;
      }
      const x0 = xin < 0 ? -1 : xin | 0, y0 = yin < 0 ? -1 : yin | 0;
      const dx = xin - x0, dy = yin - y0;
      if (interpolation === "bilinear") {
        const xa = x0 < 0 ? 0 : x0, xb = x0 + 1 >= w ? w - 1 : x0 + 1;
        const ya = y0 < 0 ? 0 : y0, yb = y0 + 1 >= h ? h - 1 : y0 + 1;
        const p00 = (ya * w + xa) * 3, p01 = (ya * w + xb) * 3;
        const p10 = (yb * w + xa) * 3, p11 = (yb * w + xb) * 3;
        for (let c = 0; c < 3; c++) {
          const top = src[p00 + c] + (src[p01 + c] - src[p00 + c]) * dx;
          const bot = src[p10 + c] + (src[p11 + c] - src[p10 + c]) * dx;
          out[o + c] = top + (bot - top) * dy + 0.5;
        }
      } else {
        for (let c = 0; c < 3; c++) {
          let acc = 0;
          for (let j = -1; j <= 2; j++) {
            const yy = Math.min(h - 1, Math.max(0, y0 + j));
            const wy = cub(j - dy);
            let row = 0;
            for (let i = -1; i <= 2; i++) {
              const xx = Math.min(w - 1, Math.max(0, x0 + i));
              row += cub(i - dx) * src[(yy * w + xx) * 3 + c];
            }
            acc += wy * row;
          }
          out[o + c] = acc < 0 ? 0 : acc > 255 ? 255 : acc + 0.5;
        }
      }
    }
  }
  return out;
}

/** Affine warp of a 0/1 mask with nearest sampling and fill 0 (torch `grid_sample` nearest). */
export function affineMask(src: Uint8Array, w: number, h: number, m: number[]): Uint8Array {
  const out = hostBufferPool.u8(w * h);
  out.fill(0);
  for (let y = 0; y < h; y++) {
    const yo = y + 0.5;
    let xf = m[0] * 0.5 + m[1] * yo + m[2] - 0.5;
    let yf = m[3] * 0.5 + m[4] * yo + m[5] - 0.5;
    for (let x = 0; x < w; x++, xf += m[0], yf += m[3]) {
      const xi = Math.round(xf), yi = Math.round(yf);
      if (xi >= 0 && xi < w && yi >= 0 && yi < h) out[y * w + x] = src[yi * w + xi];
    }
  }
  return out;
}
