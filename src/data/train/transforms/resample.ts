import { hostBufferPool } from "../buffer_pool.ts";

/**
 * Pixel resampling on CPU typed arrays with the exact arithmetic of what the reference runs:
 * PIL for images (the reference keeps frames as PIL images until `ToTensorAPI`) and torch's
 * float32 kernels for masks (uint8 tensors).
 *
 * - Image resize (`Image.resize(BILINEAR)`, always antialiased): triangle filter widened by the
 *   downscale factor, coefficients in double rounded to 22-bit fixed point, horizontal pass
 *   then vertical, each rounded to uint8 (`ImagingResample`, `PRECISION_BITS` = 22).
 * - Mask resize (`F.resize(mask[None, None])`, bilinear, antialias=True, the default of the
 *   torchvision the reference requires): the same filter in float32, horizontal then vertical,
 *   rounded half to even.
 * - Affine warp (`Image.transform(AFFINE)`): output pixel centre (x+0.5, y+0.5) mapped through
 *   the inverse matrix in double; outside [0, w) x [0, h) keeps the fill; bilinear and bicubic
 *   (PIL's a = -1 cubic) with clamped edges, truncated to uint8.
 * - Mask affine (`F.affine(tensor, NEAREST)`, grid_sample): the same mapping, nearest pixel,
 *   0 outside.
 * - Horizontal flip (`F.hflip`) of images and masks.
 *
 * @module
 */

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

/** Per-output taps of one resize axis: first input index, count, `maxTaps` weights each. */
export interface ResizeTaps {
  start: Int32Array;
  count: Int32Array;
  /** Normalised weights in double, as PIL computes them. */
  weights: Float64Array;
  /** The same weights in PIL's 22-bit fixed point. */
  fixed: Int32Array;
  maxTaps: number;
}

/** PIL `precompute_coeffs` for the bilinear (triangle) filter (double precision). */
export function resizeTaps(inSize: number, outSize: number): ResizeTaps {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale; // triangle support 1.0
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  const fixed = new Int32Array(outSize * maxTaps);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      weights[xx * maxTaps + x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      if (ww !== 0) weights[xx * maxTaps + x] /= ww;
      fixed[xx * maxTaps + x] = Math.trunc(0.5 + weights[xx * maxTaps + x] * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, fixed, maxTaps };
}

/** PIL `clip8` of a fixed-point sum that already holds the rounding half. */
function clip8fx(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes an interleaved uint8 image of `c` channels exactly as PIL's bilinear `resize`
 * (horizontal pass over the rows the vertical pass reads, then vertical; fixed point).
 */
export function resizeBytes(
  src: Uint8Array,
  w: number,
  h: number,
  c: number,
  ow: number,
  oh: number,
): Uint8Array {
  const needH = ow !== w, needV = oh !== h;
  if (!needH && !needV) {
    const copy = hostBufferPool.u8(src.length);
    copy.set(src);
    return copy;
  }
  const tv = needV ? resizeTaps(h, oh) : null;
  // rows of the source the vertical pass reads (PIL crops them before the horizontal pass)
  const y0 = tv ? tv.start[0] : 0;
  const y1 = tv ? tv.start[oh - 1] + tv.count[oh - 1] : h;
  let tmp = src, tw = w, rowOff = 0;
  if (needH) {
    const { start, count, fixed, maxTaps } = resizeTaps(w, ow);
    tmp = hostBufferPool.u8(ow * (y1 - y0) * c);
    rowOff = y0;
    for (let y = y0; y < y1; y++) {
      const row = y * w * c, orow = (y - y0) * ow * c;
      if (c === 3) {
        for (let x = 0; x < ow; x++) {
          const n = count[x], wo = x * maxTaps;
          let p = row + start[x] * 3;
          let a0 = HALF, a1 = HALF, a2 = HALF;
          for (let k = 0; k < n; k++, p += 3) {
            const wk = fixed[wo + k];
            a0 += wk * src[p];
            a1 += wk * src[p + 1];
            a2 += wk * src[p + 2];
          }
          const o = orow + x * 3;
          tmp[o] = clip8fx(a0);
          tmp[o + 1] = clip8fx(a1);
          tmp[o + 2] = clip8fx(a2);
        }
      } else {
        for (let x = 0; x < ow; x++) {
          const s = start[x], n = count[x], wo = x * maxTaps;
          for (let ch = 0; ch < c; ch++) {
            let acc = HALF;
            for (let k = 0; k < n; k++) acc += fixed[wo + k] * src[row + (s + k) * c + ch];
            tmp[orow + x * c + ch] = clip8fx(acc);
          }
        }
      }
    }
    tw = ow;
  }
  if (!tv) return tmp;
  const out = hostBufferPool.u8(ow * oh * c);
  const rowLen = tw * c;
  let acc: Int32Array | null = null;
  const rows: number[] = [], ws: number[] = [];
  for (let y = 0; y < oh; y++) {
    const s = tv.start[y] - rowOff, n = tv.count[y], wo = y * tv.maxTaps, orow = y * rowLen;
    rows.length = 0;
    ws.length = 0;
    for (let k = 0; k < n; k++) {
      const wk = tv.fixed[wo + k];
      if (wk !== 0) {
        rows.push((s + k) * rowLen);
        ws.push(wk);
      }
    }
    if (rows.length === 1 && ws[0] === ONE) {
      // weight exactly 1: (v * 2^22 + 2^21) >> 22 = v, a copy
      out.set(tmp.subarray(rows[0], rows[0] + rowLen), orow);
    } else if (rows.length === 2) {
      const r0 = rows[0], r1 = rows[1], w0 = ws[0], w1 = ws[1];
      for (let i = 0; i < rowLen; i++) {
        out[orow + i] = clip8fx(HALF + w0 * tmp[r0 + i] + w1 * tmp[r1 + i]);
      }
    } else {
      acc ??= new Int32Array(rowLen);
      acc.fill(HALF);
      for (let k = 0; k < rows.length; k++) {
        const r = rows[k], wk = ws[k];
        for (let i = 0; i < rowLen; i++) acc[i] += wk * tmp[r + i];
      }
      for (let i = 0; i < rowLen; i++) out[orow + i] = clip8fx(acc[i]);
    }
  }
  if (tmp !== src) hostBufferPool.release(tmp);
  return out;
}

const f32 = Math.fround;

/** torch `_compute_weights_aa` for the bilinear filter, in float32 like the float kernel. */
function tapsF32(inSize: number, outSize: number) {
  const scale = f32(inSize / outSize);
  const support = scale >= 1 ? scale : 1;
  const invscale = scale >= 1 ? f32(1 / scale) : 1;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = f32(scale * f32(i + 0.5));
    const xmin = Math.max(Math.trunc(f32(f32(center - support) + 0.5)), 0);
    const xsize = Math.min(Math.trunc(f32(f32(center + support) + 0.5)), inSize) - xmin;
    let total = 0;
    for (let j = 0; j < xsize; j++) {
      const t = Math.abs(f32(f32(f32(j + xmin - center) + 0.5) * invscale));
      const w = t < 1 ? f32(1 - t) : 0;
      weights[i * maxTaps + j] = w;
      total = f32(total + w);
    }
    if (total !== 0) {
      for (let j = 0; j < xsize; j++) {
        weights[i * maxTaps + j] = f32(weights[i * maxTaps + j] / total);
      }
    }
    start[i] = xmin;
    count[i] = xsize;
  }
  return { start, count, weights, maxTaps };
}

/**
 * Resizes a 0/1 mask as the reference does (`F.resize` of a uint8 tensor: float32 antialiased
 * bilinear, horizontal then vertical, then rounded half to even back to uint8).
 */
export function resizeMask(
  src: Uint8Array,
  w: number,
  h: number,
  ow: number,
  oh: number,
): Uint8Array {
  const out = hostBufferPool.u8(ow * oh);
  if (ow === w && oh === h) {
    out.set(src);
    return out;
  }
  let plane: Float32Array;
  if (ow !== w) {
    const t = tapsF32(w, ow);
    plane = hostBufferPool.f32(ow * h);
    for (let y = 0; y < h; y++) {
      const row = y * w;
      for (let x = 0; x < ow; x++) {
        const s = row + t.start[x], n = t.count[x], wo = x * t.maxTaps;
        let acc = f32(src[s] * t.weights[wo]);
        for (let k = 1; k < n; k++) acc = f32(acc + f32(src[s + k] * t.weights[wo + k]));
        plane[y * ow + x] = acc;
      }
    }
  } else {
    plane = hostBufferPool.f32(w * h);
    for (let i = 0; i < plane.length; i++) plane[i] = src[i];
  }
  if (oh === h) {
    for (let i = 0; i < out.length; i++) out[i] = roundHalfEven(plane[i]);
    hostBufferPool.release(plane);
    return out;
  }
  const t = tapsF32(h, oh);
  for (let y = 0; y < oh; y++) {
    const s = t.start[y], n = t.count[y], wo = y * t.maxTaps, orow = y * ow;
    for (let x = 0; x < ow; x++) {
      // in double first: only a sum within 1e-5 of one half needs torch's float32 steps
      let d = 0;
      for (let k = 0; k < n; k++) d += plane[(s + k) * ow + x] * t.weights[wo + k];
      if (d < 0.49999) out[orow + x] = 0;
      else if (d > 0.50001) out[orow + x] = 1;
      else {
        let acc = f32(plane[s * ow + x] * t.weights[wo]);
        for (let k = 1; k < n; k++) {
          acc = f32(acc + f32(plane[(s + k) * ow + x] * t.weights[wo + k]));
        }
        out[orow + x] = roundHalfEven(acc);
      }
    }
  }
  hostBufferPool.release(plane);
  return out;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return (r - v === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

/**
 * Float version of the image filter for one plane (no rounding): the same filter as torch
 * `interpolate(bilinear, align_corners=False, antialias=True)`, which for upscaling equals
 * plain bilinear. Used to check the filter against PyTorch.
 */
export function resizePlaneF32(
  src: Float32Array | Float64Array,
  w: number,
  h: number,
  ow: number,
  oh: number,
): Float64Array {
  const th = resizeTaps(w, ow), tv = resizeTaps(h, oh);
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

/** PIL's transform cubic (Keys a = -1) through four samples at fraction d. */
function cubic(v1: number, v2: number, v3: number, v4: number, d: number): number {
  const p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
  return v2 + d * (p2 + d * (p3 + d * p4));
}

/**
 * Affine warp of an RGB image exactly as PIL's `Image.transform(AFFINE, matrix, resample,
 * fillcolor)`: sample point = matrix applied to the output pixel centre; points outside the
 * source keep `fill` (no blending at the border); bilinear or bicubic with clamped edges,
 * truncated to uint8. `flip` reads the source mirrored left-right (a horizontal flip before
 * the warp, without a copy).
 */
export function affineRgb(
  src: Uint8Array,
  w: number,
  h: number,
  m: number[],
  fill: [number, number, number],
  interpolation: "bilinear" | "bicubic",
  flip = false,
): Uint8Array {
  const out = hostBufferPool.u8(w * h * 3);
  const [a0, a1, a2, a3, a4, a5] = m;
  const cx = (x: number) => {
    const v = x < 0 ? 0 : x >= w ? w - 1 : x;
    return (flip ? w - 1 - v : v) * 3;
  };
  for (let y = 0; y < h; y++) {
    const yc = y + 0.5;
    for (let x = 0; x < w; x++) {
      const xc = x + 0.5;
      let xin = a0 * xc + a1 * yc + a2;
      let yin = a3 * xc + a4 * yc + a5;
      const o = (y * w + x) * 3;
      if (xin < 0 || xin >= w || yin < 0 || yin >= h) {
        out[o] = fill[0];
        out[o + 1] = fill[1];
        out[o + 2] = fill[2];
        continue;
      }
      xin -= 0.5;
      yin -= 0.5;
      const xi = Math.floor(xin), yi = Math.floor(yin);
      const dx = xin - xi, dy = yin - yi;
      if (interpolation === "bilinear") {
        const x0 = cx(xi), x1 = cx(xi + 1);
        const r0 = (yi < 0 ? 0 : yi) * w * 3;
        const r1 = yi + 1 < h ? (yi + 1) * w * 3 : -1;
        for (let c = 0; c < 3; c++) {
          const p = src[r0 + x0 + c], q = src[r0 + x1 + c];
          const v1 = p + (q - p) * dx;
          let v2 = v1;
          if (r1 >= 0) {
            const s = src[r1 + x0 + c], t = src[r1 + x1 + c];
            v2 = s + (t - s) * dx;
          }
          out[o + c] = v1 + (v2 - v1) * dy; // Uint8Array store truncates (v >= 0)
        }
      } else {
        const xs = [cx(xi - 1), cx(xi), cx(xi + 1), cx(xi + 2)];
        for (let c = 0; c < 3; c++) {
          const row = (yy: number) => {
            const r = (yy < 0 ? 0 : yy >= h ? h - 1 : yy) * w * 3 + c;
            return cubic(src[r + xs[0]], src[r + xs[1]], src[r + xs[2]], src[r + xs[3]], dx);
          };
          const v = cubic(row(yi - 1), row(yi), row(yi + 1), row(yi + 2), dy);
          out[o + c] = v <= 0 ? 0 : v >= 255 ? 255 : v;
        }
      }
    }
  }
  return out;
}

/**
 * Affine warp of a 0/1 mask with nearest sampling and fill 0 (torchvision's tensor path:
 * `grid_sample(nearest, align_corners=False)` about the image centre), `flip` as in
 * {@linkcode affineRgb}.
 */
export function affineMask(
  src: Uint8Array,
  w: number,
  h: number,
  m: number[],
  flip = false,
): Uint8Array {
  const out = hostBufferPool.u8(w * h);
  out.fill(0);
  const [a0, a1, a2, a3, a4, a5] = m;
  for (let y = 0; y < h; y++) {
    const yc = y + 0.5;
    for (let x = 0; x < w; x++) {
      const xc = x + 0.5;
      const xi = roundHalfEven(a0 * xc + a1 * yc + a2 - 0.5);
      const yi = roundHalfEven(a3 * xc + a4 * yc + a5 - 0.5);
      if (xi >= 0 && xi < w && yi >= 0 && yi < h) {
        out[y * w + x] = src[yi * w + (flip ? w - 1 - xi : xi)];
      }
    }
  }
  return out;
}

/** `F.hflip` of an interleaved image of `c` channels (or a mask, c = 1), into a new array. */
export function hflipBytes(data: Uint8Array, w: number, h: number, c: number): Uint8Array {
  const out = hostBufferPool.u8(data.length);
  for (let y = 0; y < h; y++) {
    const r = y * w * c;
    for (let x = 0; x < w; x++) {
      const s = r + x * c, d = r + (w - 1 - x) * c;
      for (let k = 0; k < c; k++) out[d + k] = data[s + k];
    }
  }
  return out;
}
