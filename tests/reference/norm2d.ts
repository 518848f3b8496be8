/**
 * Float64 CPU reference for SAM 2's LayerNorm2d (normalises over the channels of NCHW with the
 * biased variance), forward and backward, used only by tests.
 */
import type { RefTensor } from "./conv.ts";

/** y = (x - mean_c) / sqrt(var_c + eps) * weight[c] + bias[c]. */
export function layerNorm2dRef(
  x: RefTensor,
  weight: Float64Array,
  bias: Float64Array,
  eps: number,
): RefTensor {
  const [N, C, H, W] = x.shape, HW = H * W;
  const out = new Float64Array(x.data.length);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < HW; p++) {
      let mean = 0;
      for (let c = 0; c < C; c++) mean += x.data[(n * C + c) * HW + p];
      mean /= C;
      let v = 0;
      for (let c = 0; c < C; c++) v += (x.data[(n * C + c) * HW + p] - mean) ** 2;
      const rstd = 1 / Math.sqrt(v / C + eps);
      for (let c = 0; c < C; c++) {
        const i = (n * C + c) * HW + p;
        out[i] = (x.data[i] - mean) * rstd * weight[c] + bias[c];
      }
    }
  }
  return { data: out, shape: x.shape };
}

/** Gradients of layerNorm2dRef for upstream gradient `gout`. */
export function layerNorm2dBackwardRef(
  x: RefTensor,
  weight: Float64Array,
  gout: RefTensor,
  eps: number,
): { gx: RefTensor; gw: Float64Array; gb: Float64Array } {
  const [N, C, H, W] = x.shape, HW = H * W;
  const gx = new Float64Array(x.data.length);
  const gw = new Float64Array(C), gb = new Float64Array(C);
  const xhat = new Float64Array(C), gxh = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < HW; p++) {
      let mean = 0;
      for (let c = 0; c < C; c++) mean += x.data[(n * C + c) * HW + p];
      mean /= C;
      let v = 0;
      for (let c = 0; c < C; c++) v += (x.data[(n * C + c) * HW + p] - mean) ** 2;
      const rstd = 1 / Math.sqrt(v / C + eps);
      let m1 = 0, m2 = 0;
      for (let c = 0; c < C; c++) {
        const i = (n * C + c) * HW + p;
        xhat[c] = (x.data[i] - mean) * rstd;
        gxh[c] = gout.data[i] * weight[c];
        gw[c] += gout.data[i] * xhat[c];
        gb[c] += gout.data[i];
        m1 += gxh[c];
        m2 += gxh[c] * xhat[c];
      }
      m1 /= C;
      m2 /= C;
      for (let c = 0; c < C; c++) {
        gx[(n * C + c) * HW + p] = rstd * (gxh[c] - m1 - xhat[c] * m2);
      }
    }
  }
  return { gx: { data: gx, shape: x.shape }, gw, gb };
}
