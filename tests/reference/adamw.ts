/**
 * Float64 CPU references for torch.optim.AdamW (amsgrad=False, single-tensor path) and
 * torch.nn.utils.clip_grad_norm_ (norm_type 2), used only by tests.
 */

/** AdamW hyper-parameters. */
export interface AdamWRefOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** One AdamW step at 1-based `step`, updating p, m and v in place. */
export function adamwStepRef(
  p: Float64Array,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  step: number,
  o: AdamWRefOptions,
): void {
  const bc1 = 1 - Math.pow(o.beta1, step), bc2 = 1 - Math.pow(o.beta2, step);
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - o.lr * o.weightDecay;
    m[i] = m[i] * o.beta1 + (1 - o.beta1) * g[i];
    v[i] = v[i] * o.beta2 + (1 - o.beta2) * g[i] * g[i];
    p[i] -= (o.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps);
  }
}

/** Scales every gradient by min(1, maxNorm/(total+1e-6)) in place; returns the total norm. */
export function clipGradNormRef(grads: Float64Array[], maxNorm: number): number {
  let ss = 0;
  for (const g of grads) for (const x of g) ss += x * x;
  const total = Math.sqrt(ss);
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return total;
}
