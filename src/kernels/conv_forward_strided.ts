/**
 * conv2d forward for strides above 1 along W on CPU adapters: the row kernel's tiling with one
 * shifted input window per (channel, kernel row) that every tap reads its strided values from.
 *
 * @module
 */
import type { KernelSource } from "../gpu/kernel_source.ts";
import { CONV_WG, type ConvGemmSpec } from "./conv_shape.ts";
import {
  accDecl,
  channelTile,
  CONV_MAIN,
  convHeader,
  convKernel,
  forwardSweep,
  namedWindow,
  rowStores,
  shiftedLoad,
  tileFlags,
} from "./conv_wgsl.ts";

/** Compile-time facts of `conv2dForwardStridedKernel` (besides the register tile). */
export interface ConvStridedSpec extends Omit<ConvGemmSpec, "named"> {
  /** Vec4s of consecutive output pixels per lane along the row. */
  vp: number;
  /** Stride along W (the window's stride between output pixels). */
  sw: number;
  /** Kernel width (taps unrolled when generating). */
  kw: number;
  /** Dilation along W. */
  dw: number;
}

/** Input window elements a lane of `conv2dForwardStridedKernel` reads per (channel, kernel row). */
export function stridedWindowLength(s: { vp: number; sw: number; kw: number; dw: number }) {
  return (4 * s.vp - 1) * s.sw + (s.kw - 1) * s.dw + 1;
}

/**
 * conv2d forward, any stride along W (any stride, padding and dilation along H; groups), with
 * named registers (CPU adapters). Workgroup (x, y, z) = (row-tile group, oh + OH*n, channel tile of
 * one group), as `conv2dForwardRowKernel`: each lane covers 4*vp consecutive outputs of the row
 * times `tm` output channels from the workgroup id (uniform weight loads). Per (channel, kernel
 * row) a lane loads the input window its outputs reach, `stridedWindowLength` values, as
 * shifted vec4s once (ceil(len/4)+1 aligned loads, masked to [0, W)); each tap then assembles
 * its 4 strided values per vec4 from those registers at no load cost. A 3x3 stride-2 conv with
 * vp = 2 and tm = 16: 6 vec4 loads per 96 vec4 FMAs, where the general kernel gathers 4 scalars
 * per 16. Bindings: y (write), x (as vec4), w, [bias], uniforms. Dispatch:
 * `conv2dForwardRowGrid(s, tm, vp)` (needs N*OH <= 65535).
 */
export function conv2dForwardStridedKernel(spec: ConvStridedSpec): KernelSource {
  const tm = Math.max(1, Math.floor(spec.tm)), vp = Math.max(1, Math.floor(spec.vp));
  const sw = Math.max(1, Math.floor(spec.sw)), kw = Math.max(1, Math.floor(spec.kw));
  const dw = Math.max(1, Math.floor(spec.dw));
  const nc = Math.ceil(stridedWindowLength({ vp, sw, kw, dw }) / 4);
  const el = (p: number) => `win${p >> 2}.${"xyzw"[p & 3]}`;
  const taps = Array.from({ length: kw }, (_, k) => {
    const lines = Array.from(
      { length: tm },
      (_, i) => `let w${i} = vec4<f32>(w[min(wb + ${i} * K, wlast) + k + ${k}]);`,
    );
    for (let v = 0; v < vp; v++) {
      const ps = [0, 1, 2, 3].map((j) => el((4 * v + j) * sw + k * dw));
      lines.push(`let xv${v} = vec4<f32>(${ps.join(", ")});`);
      for (let i = 0; i < tm; i++) {
        lines.push(`acc${i * vp + v} = fma(w${i}, xv${v}, acc${i * vp + v});`);
      }
    }
    return `{\n${lines.join("\n")}\n}`;
  }).join("\n");
  const code = `${convHeader("y: array<f32>", ["x: array<vec4<f32>>", "w: array<f32>"], spec.bias)}
${shiftedLoad("x")}
${CONV_MAIN}
  let oh = i32(wid.y) % u.OH;
  let n = i32(wid.y) / u.OH;
  ${channelTile("OG", tm)}
  let ow0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * ${4 * vp};
  let ih0 = oh * u.SH - u.PH;
  let iw0 = ow0 * ${sw} - u.PW;
  ${accDecl(true, tm * vp)}
  ${
    forwardSweep(
      `${kw}`,
      `      if (ih >= 0 && ih < u.H) {
${namedWindow("x", nc, "xc + ih * u.W + iw0", "iw0", "u.W")}
${taps}
      }
      k += ${kw};`,
    )
  }
  let OHW = u.OH * u.OW;
  ${rowStores(true, tm, vp, spec.bias)}
}
`;
  return convKernel(
    `conv2d_forward_strided[tm${tm},vp${vp},sw${sw},kw${kw},dw${dw}${
      tileFlags({ bias: spec.bias })
    }]`,
    code,
    { bias: spec.bias },
  );
}
