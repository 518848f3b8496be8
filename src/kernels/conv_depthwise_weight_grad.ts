/**
 * Depthwise conv2d weight-gradient partials over output-row splits.
 *
 * @module
 */
import type { KernelSource } from "../gpu/kernel_source.ts";
import { CONV_WG, type ConvShape, type SplitTiling, splitTiling } from "./conv_shape.ts";
import {
  CONV_MAIN,
  convHeader,
  convKernel,
  depthwisePrelude,
  namedWindow,
  shiftedLoad,
  winAt,
  windowTapPair,
} from "./conv_wgsl.ts";
import { DW_TN } from "./conv_depthwise.ts";

/**
 * Depthwise weight-gradient partials (stride 1 along W): part[s, c, kh, kw] = sum over the
 * output rows of split s and all ow of y[n, c, oh, ow] * x[n, c, oh*SH - PH + kh*DH,
 * ow - PW + kw*DW]. Workgroup (x, y, z) = (kh group, split, channel); lane = kernel row kh. Per 8
 * outputs of a row: the y values are uniform loads, the lane's x window (8 + (KW-1)*DW values)
 * is read once as shifted vec4s, and KW accumulators take dot products. Bindings: part (write,
 * [splits, C, KH, KW]), y (as vec4), x (as vec4), uniforms; e0 = output rows (n, oh) per split.
 */
export function depthwiseWeightGradKernel(
  spec: { kw: number; dw: number; named?: boolean },
): KernelSource {
  const kw = Math.max(1, Math.floor(spec.kw)), dw = Math.max(1, Math.floor(spec.dw));
  const nc = Math.ceil((DW_TN + (kw - 1) * dw) / 4);
  const code = `${convHeader("part: array<f32>", ["y: array<vec4<f32>>", "x: array<vec4<f32>>"])}
${depthwisePrelude(kw, dw, nc, spec.named)}
${shiftedLoad("y")}
${CONV_MAIN}
  let kh = i32(wid.x) * ${CONV_WG} + i32(lid.x);
  let sp = i32(wid.y);
  let c = i32(wid.z);
  ${
    spec.named
      ? Array.from({ length: kw }, (_, k) => `var acc${k} = vec4<f32>(0.0);`).join("\n")
      : "var acc: array<f32, KW>;"
  }
  let rows = u.N * u.OH;
  let rBeg = sp * u.e0;
  let rEnd = min(rows, rBeg + u.e0);
  let khc = min(kh, u.KH - 1);
  for (var rr = rBeg; rr < rEnd; rr++) {
    let n = rr / u.OH;
    let oh = rr % u.OH;
    let ih = oh * u.SH - u.PH + khc * u.DH;
    let rowok = ih >= 0 && ih < u.H;
    let xr = u.xOff + ((n * u.C + c) * u.H + clamp(ih, 0, u.H - 1)) * u.W;
    let yr = u.yOff + ((n * u.O + c) * u.OH + oh) * u.OW;
    for (var ow0 = 0; ow0 < u.OW; ow0 += ${DW_TN}) {
      let lane = vec4<i32>(0, 1, 2, 3) + ow0;
      let g0 = select(vec4<f32>(0.0), y_load4s(yr + ow0), lane < vec4<i32>(u.OW));
      let g1 = select(vec4<f32>(0.0), y_load4s(yr + ow0 + 4), lane + 4 < vec4<i32>(u.OW));
      let iw0 = ow0 - u.PW;
${
    spec.named
      ? `if (!rowok) { continue; }
${namedWindow("x", nc, "xr + iw0", "iw0", "u.W")}
${
        Array.from({ length: kw }, (_, k) =>
          `acc${k} = fma(g0, ${winAt(k * dw)}, fma(g1, ${winAt(k * dw + 4)}, acc${k}));`).join(
            "\n",
          )
      }`
      : `      var win = x_window(xr + iw0, iw0, u.W);
      if (!rowok) { continue; }
      for (var k = 0; k < KW; k++) {
        ${windowTapPair("        ", "arm")}
        acc[k] += dot(g0, v0) + dot(g1, v1);
      }`
  }
    }
  }
  if (kh >= u.KH) { return; }
  let base = ((sp * u.C + c) * u.KH + kh) * KW;
  ${
    spec.named
      ? Array.from({ length: kw }, (_, k) => `part[base + ${k}] = dot(acc${k}, vec4<f32>(1.0));`)
        .join("\n")
      : "for (var k = 0; k < KW; k++) { part[base + k] = acc[k]; }"
  }
}
`;
  return convKernel(`depthwise_weight_grad[kw${kw},dw${dw}${spec.named ? ",named" : ""}]`, code);
}

/** Splits (of output rows) and workgroups of `depthwiseWeightGradKernel`. */
export function depthwiseWeightGradTiling(s: ConvShape, target = 512, minRows = 4): SplitTiling {
  const gx = Math.ceil(s.kh / CONV_WG);
  return splitTiling(s.n * s.oh, [gx, s.c], {
    splitSize: gx * CONV_WG * s.c,
    target,
    minItems: minRows,
  });
}

/** Compile-time facts of `depthwiseWeightGradRowsKernel`. */
export interface DepthwiseWeightGradRowsSpec {
  /** Kernel height: the KH*KW taps are named scalar accumulators. */
  kh: number;
  /** Kernel width. */
  kw: number;
  /** Dilation along W. */
  dw: number;
}

/** Taps up to which `depthwiseWeightGradRowsKernel` keeps one register per tap (7x7 = 49). */
export const DW_WGRAD_ROWS_MAX_TAPS = 64;

/**
 * Depthwise weight-gradient partials for CPU adapters (stride 1 along W; any stride and dilation
 * along H): part[s, c, kh, kw] = sum over the INPUT rows (n, ih) of split s of
 * y[n, c, oh, ow] * x[n, c, ih, ow - PW + kw*DW] with oh = (ih + PH - kh*DH) / SH exact and in
 * range. Workgroup (x, y) = (tile of 8 channels, split); lane = one channel, owning all KH*KW
 * taps as named scalar accumulators. Per input row and 8 output columns a lane loads its x window
 * (8 + (KW-1)*DW values) once as shifted vec4s and reuses it for every kernel row kh that maps the
 * row to an output row, loading only that row's 8 y values (3 aligned vec4s): a 7x7 kernel costs
 * 5 + 7*3 vec4 loads per 392 FMAs, where the one-kernel-row-per-lane form reloads the window for
 * each kh (5 + 4 loads per 56). Bindings: part (write, [splits, C, KH, KW]), y (as vec4), x (as
 * vec4), uniforms; e0 = input rows (n, ih) per split. Dispatch: `depthwiseWeightGradRowsTiling`.
 */
export function depthwiseWeightGradRowsKernel(spec: DepthwiseWeightGradRowsSpec): KernelSource {
  const kh = Math.max(1, Math.floor(spec.kh)), kw = Math.max(1, Math.floor(spec.kw));
  const dw = Math.max(1, Math.floor(spec.dw));
  const nc = Math.ceil((DW_TN + (kw - 1) * dw) / 4);
  const comp = (v: string, p: number) => `${v}${p >> 2}.${"xyzw"[p & 3]}`;
  /** acc = sum over j < 8 of g[j] * window[s + j], as one nested fma chain. */
  const tap = (acc: string, s: number) => {
    let e = acc;
    for (let j = DW_TN - 1; j >= 0; j--) e = `fma(${comp("gwin", j)}, ${comp("win", s + j)}, ${e})`;
    return `${acc} = ${e};`;
  };
  const rows = Array.from({ length: kh }, (_, r) =>
    `{
let hn = ih + u.PH - ${r} * u.DH;
let oh = hn / u.SH;
if (hn >= 0 && oh * u.SH == hn && oh < u.OH) {
${namedWindow("y", 2, "yc + oh * u.OW + ow0", "ow0", "u.OW", "g")}
${Array.from({ length: kw }, (_, k) => tap(`a${r}_${k}`, k * dw)).join("\n")}
}
}`).join("\n");
  const accs = Array.from(
    { length: kh },
    (_, r) => Array.from({ length: kw }, (_, k) => `var a${r}_${k} = 0.0;`).join(" "),
  ).join("\n  ");
  const stores = Array.from(
    { length: kh },
    (_, r) =>
      Array.from({ length: kw }, (_, k) => `part[base + ${r * kw + k}] = a${r}_${k};`).join(" "),
  ).join("\n  ");
  const code = `${convHeader("part: array<f32>", ["y: array<vec4<f32>>", "x: array<vec4<f32>>"])}
${shiftedLoad("x")}
${shiftedLoad("y")}
${CONV_MAIN}
  let cr = i32(wid.x) * ${CONV_WG} + i32(lid.x);
  let c = min(cr, u.C - 1);
  let sp = i32(wid.y);
  ${accs}
  let rows = u.N * u.H;
  let rBeg = sp * u.e0;
  let rEnd = min(rows, rBeg + u.e0);
  for (var rr = rBeg; rr < rEnd; rr++) {
    let n = rr / u.H;
    let ih = rr % u.H;
    let xr = u.xOff + ((n * u.C + c) * u.H + ih) * u.W;
    let yc = u.yOff + (n * u.O + c) * u.OH * u.OW;
    for (var ow0 = 0; ow0 < u.OW; ow0 += ${DW_TN}) {
      let iw0 = ow0 - u.PW;
${namedWindow("x", nc, "xr + iw0", "iw0", "u.W")}
${rows}
    }
  }
  if (cr >= u.C) { return; }
  let base = (sp * u.C + c) * ${kh * kw};
  ${stores}
}
`;
  return convKernel(`depthwise_weight_grad_rows[kh${kh},kw${kw},dw${dw}]`, code);
}

/**
 * Splits (of input rows) and workgroups of `depthwiseWeightGradRowsKernel`: about `target`
 * workgroups (lavapipe runs one per core at a time; a few per core even out the load), each split
 * at least `minRows` rows and at most 65535 (llvmpipe's loop cap).
 */
export function depthwiseWeightGradRowsTiling(s: ConvShape, target = 64, minRows = 8): SplitTiling {
  const gx = Math.ceil(s.c / CONV_WG);
  return splitTiling(s.n * s.h, [gx, 1], { splitSize: gx, target, minItems: minRows });
}
