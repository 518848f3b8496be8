/**
 * Float64 CPU references for SAM 2's mask losses (training/loss_fns.py), forward and backward,
 * used only by tests. Logits and targets are [N, M, HW] flattened per mask; every per-mask
 * result is divided by numObjects as loss_on_multimask=True does.
 */

const sig = (x: number) => 1 / (1 + Math.exp(-x));
/** Numerically stable BCE-with-logits, torch's form. */
export const bceRef = (x: number, t: number) =>
  Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));

/** Per-mask sigmoid focal loss [rows] and its logits gradient for per-mask upstream `g`. */
export function focalRef(
  x: Float64Array,
  t: Float64Array,
  rows: number,
  o: { numObjects: number; alpha?: number; gamma?: number; g?: Float64Array },
): { loss: Float64Array; dx: Float64Array } {
  const a = o.alpha ?? 0.25, gm = o.gamma ?? 2;
  const hw = x.length / rows;
  const loss = new Float64Array(rows), dx = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const w = (o.g ? o.g[r] : 1) / hw / o.numObjects;
    for (let i = r * hw; i < (r + 1) * hw; i++) {
      const p = sig(x[i]), y = t[i];
      const ce = bceRef(x[i], y);
      const q = 1 - (p * y + (1 - p) * (1 - y));
      const at = a >= 0 ? a * y + (1 - a) * (1 - y) : 1;
      loss[r] += at * ce * Math.pow(q, gm);
      const dq = -(2 * y - 1) * p * (1 - p);
      const dpow = gm === 0 ? 0 : gm * Math.pow(q, gm - 1) * dq;
      dx[i] = w * at * ((p - y) * Math.pow(q, gm) + ce * dpow);
    }
    loss[r] /= hw * o.numObjects;
  }
  return { loss, dx };
}

/** Per-mask dice loss [rows] (+1 smoothing, sigmoid inside) and its logits gradient. */
export function diceRef(
  x: Float64Array,
  t: Float64Array,
  rows: number,
  o: { numObjects: number; g?: Float64Array },
): { loss: Float64Array; dx: Float64Array } {
  const hw = x.length / rows;
  const loss = new Float64Array(rows), dx = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let s = 0, tt = 0, it = 0;
    for (let i = r * hw; i < (r + 1) * hw; i++) {
      const p = sig(x[i]);
      s += p;
      tt += t[i];
      it += p * t[i];
    }
    const den = s + tt + 1;
    loss[r] = (1 - (2 * it + 1) / den) / o.numObjects;
    const w = (o.g ? o.g[r] : 1) / o.numObjects;
    for (let i = r * hw; i < (r + 1) * hw; i++) {
      const p = sig(x[i]);
      dx[i] = -w * (2 * t[i] * den - (2 * it + 1)) / (den * den) * p * (1 - p);
    }
  }
  return { loss, dx };
}

/** Per-mask IoU loss (L1 or MSE to the hard IoU) and its gradient wrt predicted IoUs. */
export function iouRef(
  x: Float64Array,
  t: Float64Array,
  pred: Float64Array,
  o: { numObjects: number; useL1: boolean; g?: Float64Array },
): { loss: Float64Array; dpred: Float64Array; actual: Float64Array } {
  const rows = pred.length, hw = x.length / rows;
  const loss = new Float64Array(rows), dpred = new Float64Array(rows);
  const actual = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let inter = 0, union = 0;
    for (let i = r * hw; i < (r + 1) * hw; i++) {
      const a = x[i] > 0, b = t[i] > 0;
      if (a && b) inter++;
      if (a || b) union++;
    }
    actual[r] = inter / Math.max(union, 1);
    const e = pred[r] - actual[r];
    const g = o.g ? o.g[r] : 1;
    loss[r] = (o.useL1 ? Math.abs(e) : e * e) / o.numObjects;
    dpred[r] = g * (o.useL1 ? Math.sign(e) : 2 * e) / o.numObjects;
  }
  return { loss, dpred, actual };
}
