/**
 * Float64 CPU references for scaled-dot-product attention (forward and backward), used only by
 * tests. Layout: q [BH, Lq, d], k and v [BH, Lk, d], row-major. The score matrix is formed
 * explicitly here (the obvious form); the GPU kernels never materialise it.
 */

/** Options shared by the forward and backward references. */
export interface SdpaRefOptions {
  /** Multiplies q·k. @default 1/sqrt(d) */
  scale?: number;
  /** Additive mask, [Lq, Lk] broadcast over BH or [BH, Lq, Lk]. */
  mask?: Float64Array;
  /** Whether the mask has a BH dimension. @default false */
  maskPerHead?: boolean;
  /** Dropout multiplier per (bh, i, j) after softmax (0 or 1/(1-p)); none when absent. */
  dropout?: (bh: number, i: number, j: number) => number;
}

function probs(
  q: Float64Array,
  k: Float64Array,
  bh: number,
  i: number,
  lq: number,
  lk: number,
  d: number,
  o: SdpaRefOptions,
): Float64Array {
  const scale = o.scale ?? 1 / Math.sqrt(d);
  const s = new Float64Array(lk);
  let m = -Infinity;
  for (let j = 0; j < lk; j++) {
    let acc = 0;
    for (let c = 0; c < d; c++) acc += q[(bh * lq + i) * d + c] * k[(bh * lk + j) * d + c];
    acc *= scale;
    if (o.mask) acc += o.mask[((o.maskPerHead ? bh * lq : 0) + i) * lk + j];
    s[j] = acc;
    m = Math.max(m, acc);
  }
  let sum = 0;
  for (let j = 0; j < lk; j++) sum += s[j] = Math.exp(s[j] - m);
  for (let j = 0; j < lk; j++) s[j] /= sum;
  return s;
}

/** softmax(q kᵀ·scale + mask) (∘ dropout) v. Returns out [BH, Lq, d]. */
export function sdpaRef(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  shape: { bh: number; lq: number; lk: number; d: number; dv?: number },
  o: SdpaRefOptions = {},
): Float64Array {
  const { bh: nb, lq, lk, d } = shape;
  const dv = shape.dv ?? d;
  const out = new Float64Array(nb * lq * dv);
  for (let b = 0; b < nb; b++) {
    for (let i = 0; i < lq; i++) {
      const p = probs(q, k, b, i, lq, lk, d, o);
      for (let j = 0; j < lk; j++) {
        const w = p[j] * (o.dropout ? o.dropout(b, i, j) : 1);
        for (let c = 0; c < dv; c++) out[(b * lq + i) * dv + c] += w * v[(b * lk + j) * dv + c];
      }
    }
  }
  return out;
}

/** Gradients of sdpaRef with respect to q, k and v for upstream gradient `g` [BH, Lq, dv]. */
export function sdpaBackwardRef(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  g: Float64Array,
  shape: { bh: number; lq: number; lk: number; d: number; dv?: number },
  o: SdpaRefOptions = {},
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { bh: nb, lq, lk, d } = shape;
  const dvn = shape.dv ?? d;
  const scale = o.scale ?? 1 / Math.sqrt(d);
  const dq = new Float64Array(q.length), dk = new Float64Array(k.length);
  const dvv = new Float64Array(v.length);
  for (let b = 0; b < nb; b++) {
    for (let i = 0; i < lq; i++) {
      const p = probs(q, k, b, i, lq, lk, d, o);
      // dP_ij = g_i · v_j (through the dropout multiplier), dS = P ∘ (dP - Σ_j P dP).
      const dp = new Float64Array(lk);
      let dot = 0;
      for (let j = 0; j < lk; j++) {
        const z = o.dropout ? o.dropout(b, i, j) : 1;
        let acc = 0;
        for (let c = 0; c < dvn; c++) {
          acc += g[(b * lq + i) * dvn + c] * v[(b * lk + j) * dvn + c];
          dvv[(b * lk + j) * dvn + c] += p[j] * z * g[(b * lq + i) * dvn + c];
        }
        dp[j] = acc * z;
        dot += p[j] * dp[j];
      }
      for (let j = 0; j < lk; j++) {
        const ds = p[j] * (dp[j] - dot) * scale;
        for (let c = 0; c < d; c++) {
          dq[(b * lq + i) * d + c] += ds * k[(b * lk + j) * d + c];
          dk[(b * lk + j) * d + c] += ds * q[(b * lq + i) * d + c];
        }
      }
    }
  }
  return { dq, dk, dv: dvv };
}
