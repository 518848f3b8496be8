/**
 * The x-shaped gather (conv2d input gradient, conv_transpose2d forward) and the weight flip that
 * turns a stride-1 input gradient into a forward conv.
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
  overTile,
  pixelTileHead,
  shiftedLoad,
  tileFlags,
} from "./conv_wgsl.ts";

/**
 * WGSL: the weights of a `channelTile("CG")` tile: lets `KK` (taps), the tile's first and the
 * group's last weight row `wc0` / `wclast` (KK apart per channel c), `OHW` and `wstep` (weights
 * per output channel), with the `tm` accumulators declared.
 */
function tileWeights(named: boolean | undefined, tm: number): string {
  return `let KK = u.KH * u.KW;
  ${accDecl(named, tm)}
  let wc0 = u.wOff + cl0 * KK;
  let wclast = u.wOff + (u.CG - 1) * KK;
  let OHW = u.OH * u.OW;
  let wstep = u.CG * KK;`;
}

/**
 * The x-shaped gather: out[n, c, ih, iw] = sum over the group's output channels ol and taps
 * (kh, kw) with oh = (ih + PH - kh*DH) / SH exact and in range (same for w) of
 * y[n, o, oh, ow] * w[o, c % CG, kh, kw] (+ bias[c]). This is conv2d's input gradient and
 * conv_transpose2d's forward. Tiling as `conv2dForwardKernel` with the roles swapped: workgroup
 * (x, y, z) = (pixel-tile group, n, channel tile), lanes over tiles of 4 consecutive x pixels,
 * `tm` channels c per lane from the workgroup id (uniform weight loads, KH*KW apart); per step
 * 4 masked gathers of y. Bindings: out (write), y, w, [bias], uniforms. Dispatch:
 * `conv2dInputGradGrid`.
 */
export function conv2dInputGradKernel(spec: ConvGemmSpec): KernelSource {
  const tm = Math.max(1, Math.floor(spec.tm));
  const code = `${pixelTileHead({ tm, bias: spec.bias }, "inputGrad")}
  let ihp = (p / u.W) + u.PH;
  let iwp = (p % u.W) + u.PW;
  ${tileWeights(spec.named, tm)}
  for (var ol = 0; ol < u.OG; ol++) {
    let o = g * u.OG + ol;
    let yc = u.yOff + (n * u.O + o) * OHW;
    let wo = o * wstep;
    for (var kh = 0; kh < u.KH; kh++) {
      let hn = ihp - kh * u.DH;
      let oh = hn / u.SH;
      let rowok = pv & (hn >= vec4<i32>(0)) & (oh * u.SH == hn) & (oh < vec4<i32>(u.OH));
      let rowi = oh * u.OW;
      for (var kw = 0; kw < u.KW; kw++) {
        let wn = iwp - kw * u.DW;
        let ow = wn / u.SW;
        let ok = rowok & (wn >= vec4<i32>(0)) & (ow * u.SW == wn) & (ow < vec4<i32>(u.OW));
        let idx = select(vec4<i32>(0), rowi + ow, ok) + yc;
        let yv = select(vec4<f32>(0.0), vec4<f32>(y[idx.x], y[idx.y], y[idx.z], y[idx.w]), ok);
        let kk = wo + kh * u.KW + kw;
        ${
    overTile(spec.named, tm, (a) =>
      `${a} = fma(vec4<f32>(w[min(wc0 + i * KK, wclast) + kk]), yv, ${a});`)
  }
      }
    }
  }
  ${
    channelStores(spec.named, tm, spec.bias, "CG", {
      base: "u.xOff + (n * u.C + c) * HW",
      store: "if (p0 + j < HW) { out[base + p0 + j] = v[j]; }",
    })
  }
}
`;
  return convKernel(`conv2d_input_grad[tm${tm}${tileFlags(spec)}]`, code, { bias: spec.bias });
}

/**
 * The x-shaped gather for strided convs, row and phase form (conv2d input gradient with stride
 * > 1, conv_transpose2d forward). Workgroup (x, y, z) = (W-phase p and tile group, ih + H*n,
 * channel tile of one group); lane pixels are iw = p + SW*(4t + j), j < 4: one phase per
 * workgroup, so which taps (kh, kw) reach the row and the phase is uniform and only those taps
 * run (a 3x3 s2 gradient does 2.25 taps per pixel instead of 9), and a tap's 4 source values
 * y[oh, ow0 + j] are consecutive: one shifted vec4 read. Weights are uniform loads (KH*KW apart
 * per channel). Bindings: out (write), y (as vec4), w, [bias], uniforms; e0 = tile groups per
 * phase. Dispatch: `conv2dInputGradRowGrid` (needs N*H <= 65535).
 */
export function conv2dInputGradRowKernel(spec: ConvGemmSpec): KernelSource {
  const tm = Math.max(1, Math.floor(spec.tm));
  const code = `${
    convHeader("out: array<f32>", ["y: array<vec4<f32>>", "w: array<f32>"], spec.bias)
  }
const TM = ${tm};
${shiftedLoad("y")}
${CONV_MAIN}
  let ih = i32(wid.y) % u.H;
  let n = i32(wid.y) / u.H;
  ${channelTile("CG")}
  let ph = i32(wid.x) / u.e0;
  let t0 = ((i32(wid.x) % u.e0) * ${CONV_WG} + i32(lid.x)) * 4;
  let lane = vec4<i32>(0, 1, 2, 3);
  let iw = ph + u.SW * (t0 + lane);
  ${tileWeights(spec.named, tm)}
  for (var kh = 0; kh < u.KH; kh++) {
    let hn = ih + u.PH - kh * u.DH;
    let oh = hn / u.SH;
    if (hn < 0 || oh * u.SH != hn || oh >= u.OH) { continue; }
    for (var kw = 0; kw < u.KW; kw++) {
      let wn0 = ph + u.PW - kw * u.DW;
      // ow of lane pixel j is (wn0 + SW*(t0 + j)) / SW: exact for all j or for none.
      let q = select(wn0 / u.SW, -((-wn0 + u.SW - 1) / u.SW), wn0 < 0);
      if (q * u.SW != wn0) { continue; }
      let ow = q + t0 + lane;
      let ok = (ow >= vec4<i32>(0)) & (ow < vec4<i32>(u.OW));
      let kk = kh * u.KW + kw;
      for (var ol = 0; ol < u.OG; ol++) {
        let o = g * u.OG + ol;
        let yv = select(vec4<f32>(0.0), y_load4s(u.yOff + (n * u.O + o) * OHW + oh * u.OW + q + t0),
          ok);
        let wo = o * wstep + kk;
        ${
    overTile(spec.named, tm, (a) =>
      `${a} = fma(vec4<f32>(w[min(wc0 + i * KK, wclast) + wo]), yv, ${a});`)
  }
      }
    }
  }
  let HW = u.H * u.W;
  ${
    channelStores(spec.named, tm, spec.bias, "CG", {
      base: "u.xOff + (n * u.C + c) * HW + ih * u.W",
      store: "if (iw[j] < u.W) { out[base + iw[j]] = v[j]; }",
    })
  }
}
`;
  return convKernel(`conv2d_input_grad_row[tm${tm}${tileFlags(spec)}]`, code, { bias: spec.bias });
}

/** Tile groups per W-phase (the kernel's e0) and workgroups of `conv2dInputGradRowKernel`. */
export function conv2dInputGradRowGrid(
  s: ConvShape,
  tm: number,
): { groupsPerPhase: number; grid: [number, number, number] } {
  const perPhase = Math.ceil(s.w / s.stride[1]);
  const groupsPerPhase = Math.max(1, Math.ceil(perPhase / (4 * CONV_WG)));
  return {
    groupsPerPhase,
    grid: [
      s.stride[1] * groupsPerPhase,
      s.n * s.h,
      Math.ceil(s.c / s.groups / tm) * s.groups,
    ],
  };
}

/** Workgroups of `conv2dInputGradKernel`. */
export function conv2dInputGradGrid(s: ConvShape, tm: number): [number, number, number] {
  return [
    Math.ceil(s.h * s.w / (4 * CONV_WG)),
    s.n,
    Math.ceil(s.c / s.groups / tm) * s.groups,
  ];
}

/**
 * Rearranges a conv weight [G*OG, CG, KH, KW] into [G*CG, OG, KH, KW] with both kernel axes
 * reversed: the weight of the stride-1 convolution that computes the input gradient (run with
 * padding D*(K-1) - P). One invocation per output element. Uniforms as `convUniforms`.
 * Bindings: out (write), w, uniforms; dispatch `convGrid(O*CG*KH*KW)`.
 */
export function convWeightFlipKernel(): KernelSource {
  const code = `${convHeader("out: array<f32>", ["w: array<f32>"])}
@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = i32(gid.x) + i32(gid.y) * u.gridX;
  let KK = u.KH * u.KW;
  if (i >= u.O * u.CG * KK) { return; }
  let kk = i % KK;
  let ol = (i / KK) % u.OG;
  let cg = i / (KK * u.OG);
  let g = cg / u.CG;
  let c = cg % u.CG;
  out[i] = w[u.wOff + ((g * u.OG + ol) * u.CG + c) * KK + (KK - 1 - kk)];
}
`;
  return convKernel("conv_weight_flip", code, { reads: 1 });
}
