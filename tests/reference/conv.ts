/**
 * Float64 CPU references for conv2d and conv_transpose2d (NCHW), forward and backward, used only
 * by tests. Written as the plain sums of PyTorch's definitions: the slowest, most obvious form.
 */

/** Convolution geometry, per axis [h, w]. */
export interface ConvGeometry {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** Transposed-convolution geometry: conv geometry plus PyTorch's `output_padding`. */
export interface ConvTransposeGeometry extends ConvGeometry {
  outputPadding: [number, number];
}

/** A float64 array with its shape. */
export interface RefTensor {
  data: Float64Array;
  shape: number[];
}

/** Output spatial size of conv2d along one axis. */
export function convOutSize(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** conv2d: x [N, Cin, H, W], w [Cout, Cin/g, kH, kW], bias [Cout] or null. */
export function conv2dRef(
  x: RefTensor,
  w: RefTensor,
  bias: Float64Array | null,
  g: ConvGeometry,
): RefTensor {
  const [N, C, H, W] = x.shape, [O, Cg, KH, KW] = w.shape;
  const OH = convOutSize(H, KH, g.stride[0], g.padding[0], g.dilation[0]);
  const OW = convOutSize(W, KW, g.stride[1], g.padding[1], g.dilation[1]);
  const Og = O / g.groups;
  if (Cg * g.groups !== C) throw new Error(`conv2dRef: C=${C} != ${Cg}*${g.groups}`);
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const grp = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let s = bias ? bias[o] : 0;
          for (let c = 0; c < Cg; c++) {
            const ci = grp * Cg + c;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (iw < 0 || iw >= W) continue;
                s += x.data[((n * C + ci) * H + ih) * W + iw] *
                  w.data[((o * Cg + c) * KH + kh) * KW + kw];
              }
            }
          }
          out[((n * O + o) * OH + oh) * OW + ow] = s;
        }
      }
    }
  }
  return { data: out, shape: [N, O, OH, OW] };
}

/** Gradients of conv2d for upstream gradient `gout` [N, Cout, OH, OW]. */
export function conv2dBackwardRef(
  x: RefTensor,
  w: RefTensor,
  gout: RefTensor,
  g: ConvGeometry,
): { gx: RefTensor; gw: RefTensor; gb: Float64Array } {
  const [N, C, H, W] = x.shape, [O, Cg, KH, KW] = w.shape;
  const [, , OH, OW] = gout.shape;
  const Og = O / g.groups;
  const gx = new Float64Array(x.data.length), gw = new Float64Array(w.data.length);
  const gb = new Float64Array(O);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const grp = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const go = gout.data[((n * O + o) * OH + oh) * OW + ow];
          gb[o] += go;
          for (let c = 0; c < Cg; c++) {
            const ci = grp * Cg + c;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (iw < 0 || iw >= W) continue;
                const xi = ((n * C + ci) * H + ih) * W + iw,
                  wi = ((o * Cg + c) * KH + kh) * KW + kw;
                gx[xi] += go * w.data[wi];
                gw[wi] += go * x.data[xi];
              }
            }
          }
        }
      }
    }
  }
  return { gx: { data: gx, shape: x.shape }, gw: { data: gw, shape: w.shape }, gb };
}

/** Output spatial size of conv_transpose2d along one axis. */
export function convTransposeOutSize(
  n: number,
  k: number,
  s: number,
  p: number,
  d: number,
  op: number,
): number {
  return (n - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

/**
 * conv_transpose2d: x [N, Cin, H, W], w [Cin, Cout/g, kH, kW] (PyTorch's layout), bias [Cout].
 * Each input pixel scatters x * w into out[ih*s - p + kh*d, iw*s - p + kw*d].
 */
export function convTranspose2dRef(
  x: RefTensor,
  w: RefTensor,
  bias: Float64Array | null,
  g: ConvTransposeGeometry,
): RefTensor {
  const [N, C, H, W] = x.shape, [Cw, Og, KH, KW] = w.shape;
  if (Cw !== C) throw new Error(`convTranspose2dRef: weight has ${Cw} input channels, x has ${C}`);
  const Cg = C / g.groups, O = Og * g.groups;
  const OH = convTransposeOutSize(
    H,
    KH,
    g.stride[0],
    g.padding[0],
    g.dilation[0],
    g.outputPadding[0],
  );
  const OW = convTransposeOutSize(
    W,
    KW,
    g.stride[1],
    g.padding[1],
    g.dilation[1],
    g.outputPadding[1],
  );
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      if (bias) out.fill(bias[o], (n * O + o) * OH * OW, (n * O + o + 1) * OH * OW);
    }
    for (let ci = 0; ci < C; ci++) {
      const grp = Math.floor(ci / Cg);
      for (let ih = 0; ih < H; ih++) {
        for (let iw = 0; iw < W; iw++) {
          const xv = x.data[((n * C + ci) * H + ih) * W + iw];
          for (let oc = 0; oc < Og; oc++) {
            const o = grp * Og + oc;
            for (let kh = 0; kh < KH; kh++) {
              const oh = ih * g.stride[0] - g.padding[0] + kh * g.dilation[0];
              if (oh < 0 || oh >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ow = iw * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (ow < 0 || ow >= OW) continue;
                out[((n * O + o) * OH + oh) * OW + ow] += xv *
                  w.data[((ci * Og + oc) * KH + kh) * KW + kw];
              }
            }
          }
        }
      }
    }
  }
  return { data: out, shape: [N, O, OH, OW] };
}

/** Gradients of conv_transpose2d for upstream gradient `gout` [N, Cout, OH, OW]. */
export function convTranspose2dBackwardRef(
  x: RefTensor,
  w: RefTensor,
  gout: RefTensor,
  g: ConvTransposeGeometry,
): { gx: RefTensor; gw: RefTensor; gb: Float64Array } {
  const [N, C, H, W] = x.shape, [, Og, KH, KW] = w.shape;
  const [, O, OH, OW] = gout.shape;
  const Cg = C / g.groups;
  const gx = new Float64Array(x.data.length), gw = new Float64Array(w.data.length);
  const gb = new Float64Array(O);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < OH * OW; i++) gb[o] += gout.data[(n * O + o) * OH * OW + i];
    }
    for (let ci = 0; ci < C; ci++) {
      const grp = Math.floor(ci / Cg);
      for (let ih = 0; ih < H; ih++) {
        for (let iw = 0; iw < W; iw++) {
          const xi = ((n * C + ci) * H + ih) * W + iw;
          for (let oc = 0; oc < Og; oc++) {
            const o = grp * Og + oc;
            for (let kh = 0; kh < KH; kh++) {
              const oh = ih * g.stride[0] - g.padding[0] + kh * g.dilation[0];
              if (oh < 0 || oh >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ow = iw * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (ow < 0 || ow >= OW) continue;
                const go = gout.data[((n * O + o) * OH + oh) * OW + ow];
                const wi = ((ci * Og + oc) * KH + kh) * KW + kw;
                gx[xi] += go * w.data[wi];
                gw[wi] += go * x.data[xi];
              }
            }
          }
        }
      }
    }
  }
  return { gx: { data: gx, shape: x.shape }, gw: { data: gw, shape: w.shape }, gb };
}
