/**
 * Float64 CPU reference for F.interpolate on NCHW (nearest, bilinear, bicubic, antialiased
 * bilinear), forward and backward, used only by tests. Every mode PyTorch offers here is
 * separable: out[oh, ow] = sum_i sum_j wy[oh][i] * wx[ow][j] * x[iy_i, ix_j], so the reference
 * builds one tap table per axis and the backward is the transposed sum.
 */
import type { RefTensor } from "./conv.ts";

/** Which interpolation rule. */
export type InterpMode = "nearest" | "bilinear" | "bicubic";

/** Options of the reference; mirrors F.interpolate with `size` given. */
export interface InterpRefOptions {
  mode: InterpMode;
  size: [number, number];
  alignCorners?: boolean;
  antialias?: boolean;
  /** When set, PyTorch uses 1/scaleFactor (not in/out) to map coordinates. */
  scaleFactor?: [number, number];
}

/** Taps and weights for every output index along one axis. */
export interface AxisTaps {
  idx: number[][];
  wt: number[][];
}

/** PyTorch's area_pixel_compute_scale. */
function pixelScale(inp: number, out: number, alignCorners: boolean, sf?: number): number {
  if (alignCorners) return out > 1 ? (inp - 1) / (out - 1) : 0;
  return sf !== undefined && sf > 0 ? 1 / sf : inp / out;
}

/** Keys cubic convolution weights for fractional offset t (A = -0.75, as PyTorch). */
export function cubicWeights(t: number, A = -0.75): number[] {
  const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)];
}

/** The tap table of one axis for a mode, following PyTorch's CPU upsample kernels. */
export function axisTaps(
  inp: number,
  out: number,
  mode: InterpMode,
  alignCorners: boolean,
  antialias: boolean,
  sf?: number,
): AxisTaps {
  const idx: number[][] = [], wt: number[][] = [];
  if (antialias) {
    if (mode !== "bilinear" || alignCorners) {
      throw new Error("axisTaps: antialias reference covers bilinear, align_corners=false");
    }
    const scale = pixelScale(inp, out, false, sf);
    const support = scale >= 1 ? scale : 1; // (interp_size 2) * 0.5 * max(scale, 1)
    const invscale = scale >= 1 ? 1 / scale : 1;
    for (let i = 0; i < out; i++) {
      const center = scale * (i + 0.5);
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xsize = Math.min(Math.trunc(center + support + 0.5), inp) - xmin;
      const ii: number[] = [], ww: number[] = [];
      let total = 0;
      for (let j = 0; j < xsize; j++) {
        const w = Math.max(0, 1 - Math.abs((j + xmin - center + 0.5) * invscale));
        ii.push(xmin + j);
        ww.push(w);
        total += w;
      }
      idx.push(ii);
      wt.push(total !== 0 ? ww.map((w) => w / total) : ww);
    }
    return { idx, wt };
  }
  const scale = pixelScale(inp, out, alignCorners, sf);
  for (let i = 0; i < out; i++) {
    if (mode === "nearest") {
      let src: number;
      if (out === inp) src = i;
      else if (out === 2 * inp) src = i >> 1;
      else {
        const s32 = Math.fround(sf !== undefined && sf > 0 ? 1 / sf : inp / out);
        src = Math.min(Math.floor(Math.fround(i * s32)), inp - 1);
      }
      idx.push([src]);
      wt.push([1]);
    } else if (mode === "bilinear") {
      let real = alignCorners ? scale * i : scale * (i + 0.5) - 0.5;
      if (!alignCorners && real < 0) real = 0;
      const i0 = Math.min(Math.floor(real), inp - 1);
      const lambda = Math.min(Math.max(real - i0, 0), 1);
      const i1 = i0 + (i0 < inp - 1 ? 1 : 0);
      idx.push([i0, i1]);
      wt.push([1 - lambda, lambda]);
    } else {
      const real = alignCorners ? scale * i : scale * (i + 0.5) - 0.5;
      const f = Math.floor(real);
      const c = cubicWeights(real - f);
      idx.push([0, 1, 2, 3].map((k) => Math.min(Math.max(f - 1 + k, 0), inp - 1)));
      wt.push(c);
    }
  }
  return { idx, wt };
}

function tables(shape: number[], o: InterpRefOptions): { ty: AxisTaps; tx: AxisTaps } {
  const [, , H, W] = shape;
  const ac = o.alignCorners ?? false, aa = o.antialias ?? false;
  return {
    ty: axisTaps(H, o.size[0], o.mode, ac, aa, o.scaleFactor?.[0]),
    tx: axisTaps(W, o.size[1], o.mode, ac, aa, o.scaleFactor?.[1]),
  };
}

/** F.interpolate forward. */
export function interpolateRef(x: RefTensor, o: InterpRefOptions): RefTensor {
  const [N, C, H, W] = x.shape, [OH, OW] = o.size;
  const { ty, tx } = tables(x.shape, o);
  const out = new Float64Array(N * C * OH * OW);
  for (let nc = 0; nc < N * C; nc++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let s = 0;
        for (let a = 0; a < ty.idx[oh].length; a++) {
          for (let b = 0; b < tx.idx[ow].length; b++) {
            s += ty.wt[oh][a] * tx.wt[ow][b] * x.data[(nc * H + ty.idx[oh][a]) * W + tx.idx[ow][b]];
          }
        }
        out[(nc * OH + oh) * OW + ow] = s;
      }
    }
  }
  return { data: out, shape: [N, C, OH, OW] };
}

/** F.interpolate backward: scatters each output gradient into the taps it read. */
export function interpolateBackwardRef(
  xShape: number[],
  gout: RefTensor,
  o: InterpRefOptions,
): RefTensor {
  const [N, C, H, W] = xShape, [OH, OW] = o.size;
  const { ty, tx } = tables(xShape, o);
  const gx = new Float64Array(N * C * H * W);
  for (let nc = 0; nc < N * C; nc++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const g = gout.data[(nc * OH + oh) * OW + ow];
        for (let a = 0; a < ty.idx[oh].length; a++) {
          for (let b = 0; b < tx.idx[ow].length; b++) {
            gx[(nc * H + ty.idx[oh][a]) * W + tx.idx[ow][b]] += ty.wt[oh][a] * tx.wt[ow][b] * g;
          }
        }
      }
    }
  }
  return { data: gx, shape: xShape };
}
