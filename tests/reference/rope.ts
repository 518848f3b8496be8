/**
 * Float64 CPU reference for SAM 2's axial 2-D rotary encoding (compute_axial_cis +
 * apply_rotary_enc), forward and backward, used only by tests. x is [BH, L, d]; channel pairs
 * (2c, 2c+1) rotate by angle t_x·f_c for c < d/4 and t_y·f_(c-d/4) after, with
 * f_c = 1/theta^(4c/d), t_x = t % endX, t_y = floor(t / endX).
 */

/** Geometry of the rotation. */
export interface RopeRefOptions {
  endX: number;
  endY: number;
  /** @default 10000 */
  theta?: number;
  /** Token t uses position t % (endX·endY) (SAM 2 `rope_k_repeat`). @default false */
  repeat?: boolean;
  /** The last n tokens are not rotated (object pointers). @default 0 */
  numExclude?: number;
}

/** [endX·endY, d/2] cos and sin tables, as compute_axial_cis gives (re, im). */
export function axialCisRef(d: number, endX: number, endY: number, theta = 10000) {
  const half = d / 2, quarter = d / 4;
  const n = endX * endY;
  const cos = new Float64Array(n * half), sin = new Float64Array(n * half);
  for (let t = 0; t < n; t++) {
    const tx = t % endX, ty = Math.floor(t / endX);
    for (let c = 0; c < half; c++) {
      const f = 1 / Math.pow(theta, (4 * (c % quarter)) / d);
      const a = (c < quarter ? tx : ty) * f;
      cos[t * half + c] = Math.cos(a);
      sin[t * half + c] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** Rotates x; `inverse` rotates by the negative angle, which is the backward of the forward. */
export function ropeRef(
  x: Float64Array,
  shape: { bh: number; l: number; d: number },
  o: RopeRefOptions,
  inverse = false,
): Float64Array {
  const { bh, l, d } = shape;
  const half = d / 2;
  const { cos, sin } = axialCisRef(d, o.endX, o.endY, o.theta ?? 10000);
  const n = o.endX * o.endY;
  const rot = l - (o.numExclude ?? 0);
  if (!o.repeat && rot > n) throw new RangeError(`ropeRef: ${rot} tokens but ${n} positions`);
  const out = Float64Array.from(x);
  const sg = inverse ? -1 : 1;
  for (let b = 0; b < bh; b++) {
    for (let t = 0; t < rot; t++) {
      const pos = t % n;
      for (let c = 0; c < half; c++) {
        const at = (b * l + t) * d + 2 * c;
        const cs = cos[pos * half + c], sn = sg * sin[pos * half + c];
        const a = x[at], bb = x[at + 1];
        out[at] = a * cs - bb * sn;
        out[at + 1] = a * sn + bb * cs;
      }
    }
  }
  return out;
}
