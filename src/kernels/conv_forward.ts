/**
 * conv2d forward kernels (dense and grouped): the general implicit GEMM and the row kernel for
 * stride 1 along W.
 *
 * @module
 */
import type { KernelSource } from "../gpu/kernel_source.ts";
import { CONV_WG, type ConvGemmSpec, type ConvShape } from "./conv_shape.ts";
import {
  accDecl,
  channelStores,
  channelTile,
  CONV_MAIN,
  convHeader,
  convKernel,
  forwardSweep,
  overTile,
  pixelTileHead,
  rowStores,
  shiftedLoad,
  tileFlags,
} from "./conv_wgsl.ts";

/**
 * conv2d forward as an implicit GEMM. Workgroup (x, y, z) = (pixel-tile group, image n, channel
 * tile of one group); its 8 lanes cover 8 tiles of 4 consecutive output pixels (flattened over
 * OH*OW). The `tm` output channels come from the workgroup id, so the weight loads are uniform
 * across the lanes (one scalar load on lavapipe) and only the input gathers diverge: per step
 * (c, kh, kw) 4 masked gathers of x (clamped to a valid address) and `tm` uniform weights for
 * 4*tm FMAs. Bindings: y (write), x, w, [bias], uniforms. Dispatch: `conv2dForwardGrid`.
 */
export function conv2dForwardKernel(spec: ConvGemmSpec): KernelSource {
  const tm = Math.max(1, Math.floor(spec.tm));
  const code = `${pixelTileHead({ tm, bias: spec.bias }, "forward")}
  let ih0 = (p / u.OW) * u.SH - u.PH;
  let iw0 = (p % u.OW) * u.SW - u.PW;
  ${accDecl(spec.named, tm)}
  ${
    forwardSweep(
      "u.KW",
      `      let rowok = pv & (ih >= vec4<i32>(0)) & (ih < vec4<i32>(u.H));
      let rowi = ih * u.W;
      for (var kw = 0; kw < u.KW; kw++) {
        let iw = iw0 + kw * u.DW;
        let ok = rowok & (iw >= vec4<i32>(0)) & (iw < vec4<i32>(u.W));
        let idx = select(vec4<i32>(0), rowi + iw, ok) + xc;
        let xv = select(vec4<f32>(0.0), vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), ok);
        ${
        overTile(
          spec.named,
          tm,
          (a) => `${a} = fma(vec4<f32>(w[min(wb + i * K, wlast) + k]), xv, ${a});`,
        )
      }
        k++;
      }`,
    )
  }
  ${
    channelStores(spec.named, tm, spec.bias, "OG", {
      base: "u.yOff + (n * u.O + o) * OHW",
      store: "if (p0 + j < OHW) { y[base + p0 + j] = v[j]; }",
    })
  }
}
`;
  return convKernel(`conv2d_forward[tm${tm}${tileFlags(spec)}]`, code, { bias: spec.bias });
}

/** Workgroups of `conv2dForwardKernel`. */
export function conv2dForwardGrid(s: ConvShape, tm: number): [number, number, number] {
  return [
    Math.ceil(s.oh * s.ow / (4 * CONV_WG)),
    s.n,
    Math.ceil(s.o / s.groups / tm) * s.groups,
  ];
}

/** WGSL: one tap of `conv2dForwardRowKernel` (loops over VP vec4s and TM channels, or named). */
function rowTaps(named: boolean | undefined, tm: number, vp: number): string {
  const load = (v: string) =>
    `let lw = iw + ${v} * 4 + lane;
          let ok = (lw >= vec4<i32>(0)) & (lw < vec4<i32>(u.W));
          let xv = select(vec4<f32>(0.0), x_load4s(rowe + iw + ${v} * 4), ok);`;
  if (!named) {
    return `for (var v = 0; v < VP; v++) {
          ${load("v")}
          for (var i = 0; i < TM; i++) {
            acc[i * VP + v] = fma(vec4<f32>(w[min(wb + i * K, wlast) + k]), xv, acc[i * VP + v]);
          }
        }`;
  }
  const out: string[] = [];
  for (let i = 0; i < tm; i++) out.push(`let w${i} = vec4<f32>(w[min(wb + ${i} * K, wlast) + k]);`);
  for (let v = 0; v < vp; v++) {
    const acc = Array.from(
      { length: tm },
      (_, i) => `acc${i * vp + v} = fma(w${i}, xv, acc${i * vp + v});`,
    ).join("\n");
    out.push(`{\n${load(String(v))}\n${acc}\n}`);
  }
  return out.join("\n");
}

/**
 * conv2d forward for stride 1 along W (any stride along H, padding, dilation, groups). Workgroup
 * (x, y, z) = (row-tile group, oh + OH*n, channel tile of one group); each lane covers 4*vp
 * consecutive output pixels of that row times `tm` output channels. The row and the channels come
 * from the workgroup id, so row bounds are uniform branches and weight loads are uniform; each tap
 * reads a contiguous run of x per lane: vp+1 aligned vec4 loads shifted into place (`load4s`)
 * instead of 4*vp scalar gathers, for 4*vp*tm FMAs. Bindings: y (write), x (as vec4), w, [bias],
 * uniforms. Dispatch: `conv2dForwardRowGrid` (needs N*OH <= 65535).
 */
export function conv2dForwardRowKernel(spec: ConvGemmSpec & { vp: number }): KernelSource {
  const tm = Math.max(1, Math.floor(spec.tm)), vp = Math.max(1, Math.floor(spec.vp));
  const code = `${convHeader("y: array<f32>", ["x: array<vec4<f32>>", "w: array<f32>"], spec.bias)}
const TM = ${tm};
const VP = ${vp};
${shiftedLoad("x")}
${CONV_MAIN}
  let oh = i32(wid.y) % u.OH;
  let n = i32(wid.y) / u.OH;
  ${channelTile("OG")}
  let ow0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * 4 * VP;
  let ih0 = oh * u.SH - u.PH;
  let iw0 = ow0 - u.PW;
  let lane = vec4<i32>(0, 1, 2, 3);
  ${accDecl(spec.named, tm * vp)}
  ${
    forwardSweep(
      "u.KW",
      `      if (ih < 0 || ih >= u.H) { k += u.KW; continue; }
      let rowe = xc + ih * u.W;
      for (var kw = 0; kw < u.KW; kw++) {
        let iw = iw0 + kw * u.DW;
        ${rowTaps(spec.named, tm, vp)}
        k++;
      }`,
    )
  }
  let OHW = u.OH * u.OW;
  ${rowStores(spec.named, tm, vp, spec.bias)}
}
`;
  return convKernel(`conv2d_forward_row[tm${tm},vp${vp}${tileFlags(spec)}]`, code, {
    bias: spec.bias,
  });
}

/** Workgroups of `conv2dForwardRowKernel`. */
export function conv2dForwardRowGrid(
  s: ConvShape,
  tm: number,
  vp: number,
): [number, number, number] {
  return [
    Math.ceil(s.ow / (4 * vp * CONV_WG)),
    s.n * s.oh,
    Math.ceil(s.o / s.groups / tm) * s.groups,
  ];
}
