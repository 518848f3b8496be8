/**
 * Float64 CPU reference for max_pool2d (NCHW), forward with indices and backward, used only by
 * tests. Follows PyTorch's CPU kernel: windows start at oh*stride - padding, padded cells are
 * skipped, and the FIRST maximum in row-major window order wins (update only on `>` or NaN).
 */
import type { RefTensor } from "./conv.ts";

/** Pooling geometry, per axis [h, w]. */
export interface PoolGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;
}

/** PyTorch's pooling_output_shape for one axis. */
export function poolOutSize(
  n: number,
  k: number,
  s: number,
  p: number,
  d: number,
  ceil: boolean,
): number {
  let out = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

/** max_pool2d forward: output and flat h*W+w indices per (n, c) plane. */
export function maxPool2dRef(
  x: RefTensor,
  g: PoolGeometry,
): { out: RefTensor; indices: Float64Array } {
  const [N, C, H, W] = x.shape;
  const OH = poolOutSize(H, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0], g.ceilMode);
  const OW = poolOutSize(W, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1], g.ceilMode);
  const out = new Float64Array(N * C * OH * OW), indices = new Float64Array(out.length);
  for (let nc = 0; nc < N * C; nc++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let best = -Infinity, bestIdx = -1;
        for (let kh = 0; kh < g.kernel[0]; kh++) {
          const ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < g.kernel[1]; kw++) {
            const iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
            if (iw < 0 || iw >= W) continue;
            const v = x.data[(nc * H + ih) * W + iw];
            if (bestIdx < 0) bestIdx = ih * W + iw; // PyTorch starts at the first in-bounds cell
            if (v > best || Number.isNaN(v)) {
              best = v;
              bestIdx = ih * W + iw;
            }
          }
        }
        const o = (nc * OH + oh) * OW + ow;
        out[o] = best;
        indices[o] = bestIdx;
      }
    }
  }
  return { out: { data: out, shape: [N, C, OH, OW] }, indices };
}

/** max_pool2d backward: each output's gradient goes to its argmax (summed where windows overlap). */
export function maxPool2dBackwardRef(
  xShape: number[],
  indices: Float64Array,
  gout: RefTensor,
): RefTensor {
  const [N, C, H, W] = xShape;
  const [, , OH, OW] = gout.shape;
  const gx = new Float64Array(N * C * H * W);
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < OH * OW; i++) {
      gx[nc * H * W + indices[nc * OH * OW + i]] += gout.data[nc * OH * OW + i];
    }
  }
  return { data: gx, shape: xShape };
}
