/**
 * Depthwise conv2d forward (and stride-1 input gradient with the flipped kernel), direct.
 *
 * @module
 */
import type { KernelSource } from "../gpu/kernel_source.ts";
import { CONV_WG, type ConvShape } from "./conv_shape.ts";
import {
  CONV_MAIN,
  convHeader,
  convKernel,
  depthwisePrelude,
  namedWindow,
  winAt,
  windowTapPair,
} from "./conv_wgsl.ts";

/** Compile-time facts of the depthwise kernels (tap count along W and its dilation). */
export interface DepthwiseSpec {
  /** Kernel width (a constant so the tap loop is unrolled into static register moves). */
  kw: number;
  /** Dilation along W. */
  dw: number;
  /** Read the kernel flipped (w[c, KH-1-kh, KW-1-kw]): the input gradient of a stride-1 conv. */
  flip: boolean;
  /** Add a per-channel bias. */
  bias: boolean;
  /** Window and taps in named registers (generated straight-line code): CPU adapters. */
  named?: boolean;
  /**
   * Output rows per lane (named form, stride and dilation 1 along H only): each input row's
   * window is loaded once and feeds every output row it reaches; with `kh` the height of the
   * strip the lane streams down. @default 1
   */
  rows?: number;
  /**
   * Kernel height as a constant (multi-row named form): the row loop is unrolled and the
   * channel's KH x KW weights are loaded once per lane into named registers.
   */
  kh?: number;
}

/** Output pixels per lane of the depthwise kernels (two vec4s). */
export const DW_TN = 8;

/**
 * WGSL: the `kw` taps of one kernel row (weights from `wr`, flipped with `spec.flip`) on the named
 * window, accumulating output pixels 0..3 into `a0` and 4..7 into `a1`.
 */
function namedTaps(spec: DepthwiseSpec, kw: number, dw: number, a0: string, a1: string): string {
  return Array.from(
    { length: kw },
    (_, k) =>
      `{\nlet wv = vec4<f32>(w[wr + ${spec.flip ? kw - 1 - k : k}]);\n` +
      `${a0} = fma(wv, ${winAt(k * dw)}, ${a0});\n${a1} = fma(wv, ${winAt(k * dw + 4)}, ${a1});\n}`,
  ).join("\n");
}

/**
 * WGSL lines (joined at indent `ind`): stores the 8 outputs of a lane from `a0`, `a1` (+ b) into
 * the output row at `base`, masked to the row.
 */
function laneStores(a0: string, a1: string, ind: string): string {
  return [
    "for (var j = 0; j < 4; j++) {",
    `  if (ow0 + j < u.OW) { y[base + ow0 + j] = ${a0}[j] + b; }`,
    `  if (ow0 + 4 + j < u.OW) { y[base + ow0 + 4 + j] = ${a1}[j] + b; }`,
    "}",
  ].join(`\n${ind}`);
}

/** WGSL: lets the lane's channel `c`, first output column `ow0` and input column `iw0`. */
const LANE_COLUMNS = `  let c = i32(wid.z);
  let ow0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * ${DW_TN};
  let iw0 = ow0 - u.PW;`;

/** WGSL: lets the channel's input plane `xc` and kernel `wc`. */
const CHANNEL_PLANES = `  let xc = u.xOff + (n * u.C + c) * u.H * u.W;
  let wc = u.wOff + c * u.KH * KW;`;

/**
 * WGSL main of the multi-row named depthwise kernel (`DepthwiseSpec.rows` > 1; SH = DH = 1):
 * lane = 8 outputs of `rt` consecutive rows; input row t feeds output row r with tap kh = t - r.
 */
function depthwiseRowsMain(spec: DepthwiseSpec, kw: number, dw: number, nc: number, rt: number) {
  const rowsBlock = Array.from({ length: rt }, (_, r) =>
    `if (t - ${r} >= 0 && t - ${r} < u.KH) {
let kh = t - ${r};
let wr = wc + ${spec.flip ? "(u.KH - 1 - kh) * KW" : "kh * KW"};
${namedTaps(spec, kw, dw, `a${r}_0`, `a${r}_1`)}
}`).join("\n");
  const stores = Array.from({ length: rt }, (_, r) =>
    `if (oh0 + ${r} < u.OH) {
let base = u.yOff + (n * u.O + c) * u.OH * u.OW + (oh0 + ${r}) * u.OW;
${laneStores(`a${r}_0`, `a${r}_1`, "")}
}`).join("\n");
  return `${CONV_MAIN}
  let OHT = (u.OH + ${rt - 1}) / ${rt};
  let oh0 = (i32(wid.y) % OHT) * ${rt};
  let n = i32(wid.y) / OHT;
${LANE_COLUMNS}
${
    Array.from({ length: rt }, (_, r) =>
      `var a${r}_0 = vec4<f32>(0.0);\nvar a${r}_1 = vec4<f32>(0.0);`).join("\n")
  }
${CHANNEL_PLANES}
  for (var t = 0; t < u.KH + ${rt - 1}; t++) {
    let ih = oh0 - u.PH + t;
    if (ih < 0 || ih >= u.H) { continue; }
${namedWindow("x", nc, "xc + ih * u.W + iw0", "iw0", "u.W")}
${rowsBlock}
  }
  let b = ${spec.bias ? "bias[u.bOff + c]" : "0.0"};
${stores}
}`;
}

/**
 * WGSL main of the streaming named depthwise kernel (`DepthwiseSpec.kh` set; SH = DH = 1): a lane
 * walks down a strip of `rt` output rows (8 columns each). The channel's kh x kw weights sit in
 * named registers `w<i>_<k>` (loaded once per lane, flipped at load time) and `kh` accumulator
 * pairs roll down the strip: input row t (window loaded once) adds kernel row kh-1-j to
 * accumulator j (output row t - kh + 1 + j), then accumulator 0 is complete, is stored, and the
 * others shift down. The loop body is one window and kh*kw taps, so compile time stays small.
 */
function depthwiseStreamMain(
  spec: DepthwiseSpec,
  dims: { kh: number; kw: number; dw: number; nc: number; rt: number },
): string {
  const { kh, kw, dw, nc, rt } = dims;
  const weights: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let k = 0; k < kw; k++) {
      const at = spec.flip ? (kh - 1 - i) * kw + kw - 1 - k : i * kw + k;
      weights.push(`let w${i}_${k} = vec4<f32>(w[wc + ${at}]);`);
    }
  }
  const taps: string[] = [];
  for (let j = 0; j < kh; j++) {
    for (let k = 0; k < kw; k++) {
      const wr = `w${kh - 1 - j}_${k}`;
      taps.push(
        `a${j}_0 = fma(${wr}, ${winAt(k * dw)}, a${j}_0);`,
        `a${j}_1 = fma(${wr}, ${winAt(k * dw + 4)}, a${j}_1);`,
      );
    }
  }
  const shift = [];
  for (let j = 0; j + 1 < kh; j++) shift.push(`a${j}_0 = a${j + 1}_0;`, `a${j}_1 = a${j + 1}_1;`);
  shift.push(`a${kh - 1}_0 = vec4<f32>(0.0);`, `a${kh - 1}_1 = vec4<f32>(0.0);`);
  return `${CONV_MAIN}
  let OHT = (u.OH + ${rt - 1}) / ${rt};
  let oh0 = (i32(wid.y) % OHT) * ${rt};
  let n = i32(wid.y) / OHT;
${LANE_COLUMNS}
${
    Array.from({ length: kh }, (_, j) =>
      `var a${j}_0 = vec4<f32>(0.0);\nvar a${j}_1 = vec4<f32>(0.0);`).join("\n")
  }
${CHANNEL_PLANES}
${weights.join("\n")}
  let b = ${spec.bias ? "bias[u.bOff + c]" : "0.0"};
  let tEnd = min(${rt}, u.OH - oh0) + ${kh - 1};
  for (var t = 0; t < tEnd; t++) {
    let ih = oh0 - u.PH + t;
    if (ih >= 0 && ih < u.H) {
${namedWindow("x", nc, "xc + ih * u.W + iw0", "iw0", "u.W")}
${taps.join("\n")}
    }
    if (t >= ${kh - 1}) {
      let base = u.yOff + (n * u.O + c) * u.OH * u.OW + (oh0 + t - ${kh - 1}) * u.OW;
      ${laneStores("a0_0", "a0_1", "      ")}
    }
${shift.join("\n")}
  }
}`;
}

/**
 * Depthwise conv2d (C == O == groups, stride 1 along W; any stride along H, padding, dilation),
 * direct. Workgroup (x, y, z) = (row-tile group, oh + OH*n, channel c); each lane computes 8
 * consecutive outputs of one row. Per kernel row kh: the KW weights are uniform loads, and the
 * lane's input window (8 + (KW-1)*DW values) is read once as aligned vec4s shifted into place
 * and reused by every tap, so a 7x7 kernel costs 5 divergent loads per 56 FMAs. With `flip` the
 * same kernel computes the input gradient of a stride-1 depthwise conv (run on the output
 * gradient with padding D*(K-1)-P). Bindings: y (write), x (as vec4), w, [bias], uniforms.
 * Dispatch: `depthwiseGrid`.
 */
export function depthwiseConv2dKernel(spec: DepthwiseSpec): KernelSource {
  const kw = Math.max(1, Math.floor(spec.kw)), dw = Math.max(1, Math.floor(spec.dw));
  const nc = Math.ceil((DW_TN + (kw - 1) * dw) / 4);
  const rt = spec.named ? Math.max(1, Math.floor(spec.rows ?? 1)) : 1;
  const kh = rt > 1 && spec.kh !== undefined ? Math.max(1, Math.floor(spec.kh)) : 0;
  const code = `${convHeader("y: array<f32>", ["x: array<vec4<f32>>", "w: array<f32>"], spec.bias)}
${depthwisePrelude(kw, dw, nc, spec.named)}
${
    kh > 0
      ? depthwiseStreamMain(spec, { kh, kw, dw, nc, rt })
      : rt > 1
      ? depthwiseRowsMain(spec, kw, dw, nc, rt)
      : `${CONV_MAIN}
  let oh = i32(wid.y) % u.OH;
  let n = i32(wid.y) / u.OH;
${LANE_COLUMNS}
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
${CHANNEL_PLANES}
  for (var kh = 0; kh < u.KH; kh++) {
    let ih = oh * u.SH - u.PH + kh * u.DH;
    if (ih < 0 || ih >= u.H) { continue; }
    let wr = wc + ${spec.flip ? "(u.KH - 1 - kh) * KW" : "kh * KW"};
${
        spec.named
          ? namedWindow("x", nc, "xc + ih * u.W + iw0", "iw0", "u.W") + "\n" +
            namedTaps(spec, kw, dw, "a0", "a1")
          : `    let win = x_window(xc + ih * u.W + iw0, iw0, u.W);
    for (var k = 0; k < KW; k++) {
      let wv = w[wr + ${spec.flip ? "KW - 1 - k" : "k"}];
      ${windowTapPair("      ", "condition")}
      a0 = fma(vec4<f32>(wv), v0, a0);
      a1 = fma(vec4<f32>(wv), v1, a1);
    }`
      }
  }
  let b = ${spec.bias ? "bias[u.bOff + c]" : "0.0"};
  let base = u.yOff + (n * u.O + c) * u.OH * u.OW + oh * u.OW;
  ${laneStores("a0", "a1", "  ")}
}`
  }
`;
  return convKernel(
    `depthwise_conv2d[kw${kw},dw${dw}${spec.flip ? ",flip" : ""}${spec.bias ? ",bias" : ""}${
      spec.named ? `,named,rows${rt}${kh > 0 ? `,kh${kh}` : ""}` : ""
    }]`,
    code,
    { bias: spec.bias },
  );
}

/** Workgroups of `depthwiseConv2dKernel` (needs N*OH <= 65535). */
export function depthwiseGrid(s: ConvShape, rows = 1): [number, number, number] {
  return [Math.ceil(s.ow / (DW_TN * CONV_WG)), s.n * Math.ceil(s.oh / rows), s.o];
}
