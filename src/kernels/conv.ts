import type { KernelSource } from "../gpu/kernel_source.ts";

/**
 * Convolution kernels (NCHW, f32). Every kernel is described in terms of ONE forward convolution
 * y = conv2d(x, w): x [N, C, H, W], w [O, CG, KH, KW] with CG = C / G, y [N, O, OH, OW],
 * OG = O / G. The same kernels serve conv2d and conv_transpose2d (whose weight
 * [Cin, Cout/G, KH, KW] is exactly w's layout when its output plays x and its input plays y):
 *
 * - y from x and w (conv2d forward; conv_transpose2d input gradient): `conv2dForwardRowKernel`
 *   (stride 1 along W: contiguous row reads as shifted vec4s), `depthwiseConv2dKernel` (direct,
 *   one input window per kernel row reused by every tap), `conv2dForwardKernel` (general
 *   implicit GEMM with 4 gathers per tap);
 * - the x-shaped gather from y-shaped data and w (conv2d input gradient; conv_transpose2d
 *   forward): stride-1 convs run as a forward conv with `convWeightFlipKernel`'s flipped weight,
 *   strided ones through `conv2dInputGradRowKernel` (one W-phase per workgroup: only the taps
 *   that reach a pixel run), `conv2dInputGradKernel` beyond its grid limits;
 * - w-shaped partial sums from y- and x-shaped data (both ops' weight gradient):
 *   `conv2dWeightGradKernel` / `depthwiseWeightGradKernel`, summed over splits by
 *   `splitSumKernel`; bias gradients by `channelSumKernel`.
 *
 * (Convs whose kernel equals the stride with no padding, 1x1 included, never reach these
 * kernels: src/tensor/ops/_conv_launch.ts runs them as matmuls.)
 *
 * Shapes travel in the uniforms (`convUniforms`), so one compiled pipeline serves every shape;
 * only tile sizes and the depthwise tap count are compile-time. Workgroups are 8 x 1 invocations
 * (one lavapipe SIMD row) and use no workgroup memory: on lavapipe loads, not FMAs, are the
 * limit. Channel tiles come from the workgroup id, so weight loads are uniform across the lanes
 * (a single scalar load on lavapipe) and only the activation reads diverge. With `named` (CPU
 * adapters) the tile loops are unrolled when the WGSL is generated and each accumulator is its
 * own register: llvmpipe keeps arrays indexed by loop variables in memory (see `MatmulSpec.named`).
 */

/** Geometry of the forward convolution all conv kernels are phrased in. */
export interface ConvShape {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  oh: number;
  ow: number;
  groups: number;
  kh: number;
  kw: number;
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
}

/** Element offsets of the bound buffers (tensor storage offsets). */
export interface ConvOffsets {
  /** Offset of the x-shaped operand. @default 0 */
  x?: number;
  /** Offset of the weight. @default 0 */
  w?: number;
  /** Offset of the y-shaped operand. @default 0 */
  y?: number;
  /** Offset of the bias. @default 0 */
  b?: number;
}

/** Workgroup width of every kernel in this file. */
export const CONV_WG = 8;

/** Invocation grid: `x` workgroups wide (at most 65535), `y` rows; invocation t = gx + gy*8x. */
export function convGrid(invocations: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(invocations / CONV_WG));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

/**
 * Uniform block shared by the conv kernels: 28 u32 (geometry, offsets, grid width, and two
 * kernel-specific fields `e0`, `e1`).
 */
export function convUniforms(
  s: ConvShape,
  off: ConvOffsets,
  grid: readonly number[],
  e0 = 0,
  e1 = 0,
): ArrayBuffer {
  const u = new Int32Array(28);
  u.set([
    s.n,
    s.c,
    s.h,
    s.w,
    s.o,
    s.oh,
    s.ow,
    s.groups,
    s.kh,
    s.kw,
    s.stride[0],
    s.stride[1],
    s.padding[0],
    s.padding[1],
    s.dilation[0],
    s.dilation[1],
    s.c / s.groups,
    s.o / s.groups,
    off.x ?? 0,
    off.w ?? 0,
    off.y ?? 0,
    off.b ?? 0,
    grid[0] * CONV_WG,
    e0,
    e1,
  ]);
  return u.buffer;
}

const UNIFORMS = `struct U {
  N: i32, C: i32, H: i32, W: i32,
  O: i32, OH: i32, OW: i32, G: i32,
  KH: i32, KW: i32, SH: i32, SW: i32,
  PH: i32, PW: i32, DH: i32, DW: i32,
  CG: i32, OG: i32, xOff: i32, wOff: i32,
  yOff: i32, bOff: i32, gridX: i32, e0: i32,
  e1: i32, p0: i32, p1: i32, p2: i32,
};`;

/** Options of the implicit-GEMM conv kernels. */
export interface ConvGemmSpec {
  /** Output channels per invocation (register tile height); 4 pixels (a vec4) wide. */
  tm: number;
  /** Whether a per-output-channel bias is added in the epilogue. */
  bias: boolean;
  /**
   * Accumulators in individually named registers (the tile loops unrolled when the WGSL is
   * generated) instead of an array indexed by loop variables, which llvmpipe keeps in memory;
   * for CPU adapters (as `MatmulSpec.named`). @default false
   */
  named?: boolean;
}

/** WGSL: the `tm` accumulators, an array or (named) one vec4 register each. */
function accDecl(named: boolean | undefined, count: number): string {
  return named
    ? Array.from({ length: count }, (_, i) => `var acc${i} = vec4<f32>(0.0);`).join("\n  ")
    : `var acc: array<vec4<f32>, ${count}>;`;
}

/**
 * WGSL: `body` over i < TM, as a loop over `acc[i]` or (named) unrolled into blocks that bind
 * `let i` and name register `acc<i>`; with `exit` each unrolled block is a one-pass `loop` so a
 * `break` in `body` leaves just that block.
 */
function overTile(
  named: boolean | undefined,
  tm: number,
  body: (acc: string) => string,
  exit = false,
): string {
  if (!named) return `for (var i = 0; i < TM; i++) {\n${body("acc[i]")}\n}`;
  return Array.from(
    { length: tm },
    (_, i) =>
      `${exit ? "loop " : ""}{\nlet i = ${i};\n${body(`acc${i}`)}${exit ? "\nbreak;" : ""}\n}`,
  ).join("\n");
}

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
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
${spec.bias ? "@group(0) @binding(3) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${spec.bias ? 4 : 3}) var<uniform> u: U;
const TM = ${tm};
@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = i32(wid.y);
  let OT = (u.OG + TM - 1) / TM;
  let g = i32(wid.z) / OT;
  let ol0 = (i32(wid.z) % OT) * TM;
  let OHW = u.OH * u.OW;
  let p0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * 4;
  let p = vec4<i32>(p0, p0 + 1, p0 + 2, p0 + 3);
  let pv = p < vec4<i32>(OHW);
  let ih0 = (p / u.OW) * u.SH - u.PH;
  let iw0 = (p % u.OW) * u.SW - u.PW;
  ${accDecl(spec.named, tm)}
  let K = u.CG * u.KH * u.KW;
  let wb = u.wOff + (g * u.OG + ol0) * K;
  let wlast = u.wOff + (g * u.OG + u.OG - 1) * K;
  let HW = u.H * u.W;
  var xc = u.xOff + (n * u.C + g * u.CG) * HW;
  var k = 0;
  for (var c = 0; c < u.CG; c++) {
    for (var kh = 0; kh < u.KH; kh++) {
      let ih = ih0 + kh * u.DH;
      let rowok = pv & (ih >= vec4<i32>(0)) & (ih < vec4<i32>(u.H));
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
      }
    }
    xc += HW;
  }
  ${
    overTile(spec.named, tm, (a) =>
      `let ol = ol0 + i;
    if (ol >= u.OG) { break; }
    let o = g * u.OG + ol;
    let v = ${a}${spec.bias ? " + vec4<f32>(bias[u.bOff + o])" : ""};
    let base = u.yOff + (n * u.O + o) * OHW;
    for (var j = 0; j < 4; j++) {
      if (p0 + j < OHW) { y[base + p0 + j] = v[j]; }
    }`, true)
  }
}
`;
  return {
    label: `conv2d_forward[tm${tm}${spec.bias ? ",bias" : ""}${spec.named ? ",named" : ""}]`,
    code,
    bindings: spec.bias ? ["write", "read", "read", "read", "uniform"] : [
      "write",
      "read",
      "read",
      "uniform",
    ],
    workgroupSize: [CONV_WG, 1, 1],
  };
}

/** Workgroups of `conv2dForwardKernel`. */
export function conv2dForwardGrid(s: ConvShape, tm: number): [number, number, number] {
  return [
    Math.ceil(s.oh * s.ow / (4 * CONV_WG)),
    s.n,
    Math.ceil(s.o / s.groups / tm) * s.groups,
  ];
}

/**
 * WGSL: `load4s(e)` returns x[e..e+3] for any (unaligned, possibly negative) element index e
 * from a vec4 view: two aligned vec4 loads and a lane shift, chunks outside the buffer read as 0.
 * Lanes that fall outside the tensor must be masked by the caller.
 */
function shiftedLoad(name: string): string {
  return `fn ${name}_chunk(q: i32) -> vec4<f32> {
  let L = i32(arrayLength(&${name}));
  return select(${name}[clamp(q, 0, L - 1)], vec4<f32>(0.0), q < 0 || q >= L);
}
fn ${name}_load4s(e: i32) -> vec4<f32> {
  let q = e >> 2u;
  let r = e & 3;
  let a = ${name}_chunk(q);
  let b = ${name}_chunk(q + 1);
  return select(select(select(a, vec4<f32>(a.yzw, b.x), r == 1), vec4<f32>(a.zw, b.xy), r == 2),
    vec4<f32>(a.w, b.xyz), r == 3);
}`;
}

/** WGSL: one tap of `conv2dForwardRowKernel` (loops over the VP vec4s and TM channels, or named). */
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

/** WGSL: the epilogue of `conv2dForwardRowKernel`. */
function rowStores(named: boolean | undefined, tm: number, vp: number, bias: boolean): string {
  const b = bias ? " + vec4<f32>(bias[u.bOff + o])" : "";
  const store = (v: string, acc: string) =>
    `let r = ${acc}${b};
      for (var j = 0; j < 4; j++) {
        let ow = ow0 + ${v} * 4 + j;
        if (ow < u.OW) { y[base + ow] = r[j]; }
      }`;
  const head = (i: string) =>
    `let ol = ol0 + ${i};
    if (ol >= u.OG) { break; }
    let o = g * u.OG + ol;
    let base = u.yOff + (n * u.O + o) * OHW + oh * u.OW;`;
  if (!named) {
    return `for (var i = 0; i < TM; i++) {
    ${head("i")}
    for (var v = 0; v < VP; v++) {
      ${store("v", "acc[i * VP + v]")}
    }
  }`;
  }
  return Array.from(
    { length: tm },
    (_, i) =>
      `loop {\n${head(String(i))}\n${
        Array.from({ length: vp }, (_, v) => `{\n${store(String(v), `acc${i * vp + v}`)}\n}`).join(
          "\n",
        )
      }\nbreak;\n}`,
  ).join("\n");
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
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
${spec.bias ? "@group(0) @binding(3) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${spec.bias ? 4 : 3}) var<uniform> u: U;
const TM = ${tm};
const VP = ${vp};
${shiftedLoad("x")}
@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let oh = i32(wid.y) % u.OH;
  let n = i32(wid.y) / u.OH;
  let OT = (u.OG + TM - 1) / TM;
  let g = i32(wid.z) / OT;
  let ol0 = (i32(wid.z) % OT) * TM;
  let ow0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * 4 * VP;
  let ih0 = oh * u.SH - u.PH;
  let iw0 = ow0 - u.PW;
  let lane = vec4<i32>(0, 1, 2, 3);
  ${accDecl(spec.named, tm * vp)}
  let K = u.CG * u.KH * u.KW;
  let wb = u.wOff + (g * u.OG + ol0) * K;
  let wlast = u.wOff + (g * u.OG + u.OG - 1) * K;
  let HW = u.H * u.W;
  var xc = u.xOff + (n * u.C + g * u.CG) * HW;
  var k = 0;
  for (var c = 0; c < u.CG; c++) {
    for (var kh = 0; kh < u.KH; kh++) {
      let ih = ih0 + kh * u.DH;
      if (ih < 0 || ih >= u.H) { k += u.KW; continue; }
      let rowe = xc + ih * u.W;
      for (var kw = 0; kw < u.KW; kw++) {
        let iw = iw0 + kw * u.DW;
        ${rowTaps(spec.named, tm, vp)}
        k++;
      }
    }
    xc += HW;
  }
  let OHW = u.OH * u.OW;
  ${rowStores(spec.named, tm, vp, spec.bias)}
}
`;
  return {
    label: `conv2d_forward_row[tm${tm},vp${vp}${spec.bias ? ",bias" : ""}${
      spec.named ? ",named" : ""
    }]`,
    code,
    bindings: spec.bias ? ["write", "read", "read", "read", "uniform"] : [
      "write",
      "read",
      "read",
      "uniform",
    ],
    workgroupSize: [CONV_WG, 1, 1],
  };
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
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
${spec.bias ? "@group(0) @binding(3) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${spec.bias ? 4 : 3}) var<uniform> u: U;
const TM = ${tm};
@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = i32(wid.y);
  let CT = (u.CG + TM - 1) / TM;
  let g = i32(wid.z) / CT;
  let cl0 = (i32(wid.z) % CT) * TM;
  let HW = u.H * u.W;
  let p0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * 4;
  let p = vec4<i32>(p0, p0 + 1, p0 + 2, p0 + 3);
  let pv = p < vec4<i32>(HW);
  let ihp = (p / u.W) + u.PH;
  let iwp = (p % u.W) + u.PW;
  let KK = u.KH * u.KW;
  ${accDecl(spec.named, tm)}
  let wc0 = u.wOff + cl0 * KK;
  let wclast = u.wOff + (u.CG - 1) * KK;
  let OHW = u.OH * u.OW;
  let wstep = u.CG * KK;
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
    overTile(spec.named, tm, (a) =>
      `let cl = cl0 + i;
    if (cl >= u.CG) { break; }
    let c = g * u.CG + cl;
    let v = ${a}${spec.bias ? " + vec4<f32>(bias[u.bOff + c])" : ""};
    let base = u.xOff + (n * u.C + c) * HW;
    for (var j = 0; j < 4; j++) {
      if (p0 + j < HW) { out[base + p0 + j] = v[j]; }
    }`, true)
  }
}
`;
  return {
    label: `conv2d_input_grad[tm${tm}${spec.bias ? ",bias" : ""}${spec.named ? ",named" : ""}]`,
    code,
    bindings: spec.bias ? ["write", "read", "read", "read", "uniform"] : [
      "write",
      "read",
      "read",
      "uniform",
    ],
    workgroupSize: [CONV_WG, 1, 1],
  };
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
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
${spec.bias ? "@group(0) @binding(3) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${spec.bias ? 4 : 3}) var<uniform> u: U;
const TM = ${tm};
${shiftedLoad("y")}
@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let ih = i32(wid.y) % u.H;
  let n = i32(wid.y) / u.H;
  let CT = (u.CG + TM - 1) / TM;
  let g = i32(wid.z) / CT;
  let cl0 = (i32(wid.z) % CT) * TM;
  let ph = i32(wid.x) / u.e0;
  let t0 = ((i32(wid.x) % u.e0) * ${CONV_WG} + i32(lid.x)) * 4;
  let lane = vec4<i32>(0, 1, 2, 3);
  let iw = ph + u.SW * (t0 + lane);
  let KK = u.KH * u.KW;
  ${accDecl(spec.named, tm)}
  let wc0 = u.wOff + cl0 * KK;
  let wclast = u.wOff + (u.CG - 1) * KK;
  let OHW = u.OH * u.OW;
  let wstep = u.CG * KK;
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
    overTile(spec.named, tm, (a) =>
      `let cl = cl0 + i;
    if (cl >= u.CG) { break; }
    let c = g * u.CG + cl;
    let v = ${a}${spec.bias ? " + vec4<f32>(bias[u.bOff + c])" : ""};
    let base = u.xOff + (n * u.C + c) * HW + ih * u.W;
    for (var j = 0; j < 4; j++) {
      if (iw[j] < u.W) { out[base + iw[j]] = v[j]; }
    }`, true)
  }
}
`;
  return {
    label: `conv2d_input_grad_row[tm${tm}${spec.bias ? ",bias" : ""}${spec.named ? ",named" : ""}]`,
    code,
    bindings: spec.bias ? ["write", "read", "read", "read", "uniform"] : [
      "write",
      "read",
      "read",
      "uniform",
    ],
    workgroupSize: [CONV_WG, 1, 1],
  };
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
 * Weight gradient partials: part[s, o, c, kh, kw] = sum over the pixels (n, oh, ow) of split s
 * of y[n, o, oh, ow] * x[n, g*CG + c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW]. Workgroup
 * (x, y, z) = (column-tile group, split, channel tile); each lane covers 4 consecutive columns
 * (c, kh, kw) flattened (a vec4) times `tm` output channels from the workgroup id. The pixel loop
 * is uniform, so the `tm` y loads per pixel are uniform and only the 4 x gathers diverge.
 * `splitSumKernel` adds the splits. Bindings: part (write, a fresh [splits, O, CG*KH*KW]), y, x,
 * uniforms; e0 = pixels per split. Dispatch: `conv2dWeightGradTiling`.
 */
export function conv2dWeightGradKernel(spec: { tm: number; named?: boolean }): KernelSource {
  const tm = Math.max(1, Math.floor(spec.tm));
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> part: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
const TM = ${tm};
@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let KK = u.KH * u.KW;
  let K = u.CG * KK;
  let OT = (u.OG + TM - 1) / TM;
  let sp = i32(wid.y);
  let g = i32(wid.z) / OT;
  let ol0 = (i32(wid.z) % OT) * TM;
  let k0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * 4;
  let kv = vec4<i32>(k0, k0 + 1, k0 + 2, k0 + 3);
  let kok = kv < vec4<i32>(K);
  let kc = min(kv, vec4<i32>(K - 1));
  let HW = u.H * u.W;
  let xcoff = (g * u.CG + kc / KK) * HW + u.xOff;
  let dh = ((kc % KK) / u.KW) * u.DH - u.PH;
  let dw = (kc % u.KW) * u.DW - u.PW;
  let OHW = u.OH * u.OW;
  let P = u.N * OHW;
  let pBeg = sp * u.e0;
  let pEnd = min(P, pBeg + u.e0);
  ${accDecl(spec.named, tm)}
  var n = pBeg / OHW;
  var q = pBeg % OHW;
  var oh = q / u.OW;
  var ow = q % u.OW;
  let olast = u.OG - 1 - ol0;
  for (var pp = pBeg; pp < pEnd; pp++) {
    let ih = oh * u.SH + dh;
    let iw = ow * u.SW + dw;
    let ok = kok & (ih >= vec4<i32>(0)) & (ih < vec4<i32>(u.H)) & (iw >= vec4<i32>(0)) &
      (iw < vec4<i32>(u.W));
    let idx = select(vec4<i32>(0), ih * u.W + iw, ok) + xcoff + n * u.C * HW;
    let xv = select(vec4<f32>(0.0), vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), ok);
    let yb = u.yOff + (n * u.O + g * u.OG + ol0) * OHW + oh * u.OW + ow;
    ${
    overTile(spec.named, tm, (a) => `${a} = fma(vec4<f32>(y[yb + min(i, olast) * OHW]), xv, ${a});`)
  }
    ow++;
    if (ow == u.OW) {
      ow = 0;
      oh++;
      if (oh == u.OH) { oh = 0; n++; }
    }
  }
  ${
    overTile(spec.named, tm, (a) =>
      `let ol = ol0 + i;
    if (ol >= u.OG) { break; }
    let base = (sp * u.O + g * u.OG + ol) * K;
    for (var j = 0; j < 4; j++) {
      if (k0 + j < K) { part[base + k0 + j] = ${a}[j]; }
    }`, true)
  }
}
`;
  return {
    label: `conv2d_weight_grad[tm${tm}${spec.named ? ",named" : ""}]`,
    code,
    bindings: ["write", "read", "read", "uniform"],
    workgroupSize: [CONV_WG, 1, 1],
  };
}

/**
 * Splits and workgroups of `conv2dWeightGradKernel`: enough splits that about `target`
 * invocations run (lavapipe: a few hundred keep 2 cores x 8 lanes busy; a real GPU wants
 * thousands), each split at least `minPixels` long.
 */
export function conv2dWeightGradTiling(
  s: ConvShape,
  tm: number,
  target = 512,
  minPixels = 256,
): { splits: number; pixelsPerSplit: number; grid: [number, number, number] } {
  const K = (s.c / s.groups) * s.kh * s.kw;
  const gx = Math.ceil(K / (4 * CONV_WG));
  const gz = Math.ceil(s.o / s.groups / tm) * s.groups;
  const base = gx * CONV_WG * gz;
  const P = s.n * s.oh * s.ow;
  const want = Math.max(1, Math.min(Math.ceil(target / base), Math.floor(P / minPixels), 65535));
  const pixelsPerSplit = Math.ceil(P / want);
  const splits = Math.ceil(P / pixelsPerSplit);
  return { splits, pixelsPerSplit, grid: [gx, splits, gz] };
}

/**
 * out[i] (+)= sum over s < S of part[s * M + i]: adds the split partials of a reduction. One
 * invocation per 4 consecutive outputs. When `accumulate` is set the sum is added to `out`
 * (gradient accumulation into an existing buffer). Uniforms (u32): M, S, outOff, gridX.
 * Bindings: out (write), part, uniforms.
 */
export function splitSumKernel(spec: { accumulate: boolean }): KernelSource {
  const code = `struct U { M: u32, S: u32, outOff: u32, gridX: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * u.gridX;
  if (i >= u.M) { return; }
  var s = 0.0;
  for (var k = 0u; k < u.S; k++) { s += part[k * u.M + i]; }
  ${spec.accumulate ? "out[u.outOff + i] += s;" : "out[u.outOff + i] = s;"}
}
`;
  return {
    label: `split_sum[${spec.accumulate ? "acc" : "set"}]`,
    code,
    bindings: ["write", "read", "uniform"],
    workgroupSize: [CONV_WG, 1, 1],
  };
}

/** Uniforms of `splitSumKernel`. */
export function splitSumUniforms(m: number, s: number, outOff: number, grid: readonly number[]) {
  return new Uint32Array([m, s, outOff, grid[0] * CONV_WG]).buffer;
}

/**
 * Per-channel sum of a [N, C, P] tensor: out[c] = sum over n, p (the bias gradient of a conv, and
 * of LayerNorm2d). One 64-invocation workgroup per channel; each invocation strides over the
 * N*P values, then a tree in workgroup memory. Uniforms (u32): N, C, P, inOff, outOff.
 * Bindings: out (write), x, uniforms; dispatch (C, 1, 1).
 */
export function channelSumKernel(): KernelSource {
  const code =
    `struct U { N: u32, C: u32, P: u32, inOff: u32, outOff: u32, p0: u32, p1: u32, p2: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  var s = 0.0;
  let total = u.N * u.P;
  for (var i = lid; i < total; i += 64u) {
    let n = i / u.P;
    s += x[u.inOff + (n * u.C + c) * u.P + i % u.P];
  }
  red[lid] = s;
  workgroupBarrier();
  for (var h = 32u; h > 0u; h >>= 1u) {
    if (lid < h) { red[lid] += red[lid + h]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[u.outOff + c] = red[0]; }
}
`;
  return {
    label: "channel_sum",
    code,
    bindings: ["write", "read", "uniform"],
    workgroupSize: [64, 1, 1],
  };
}

/** Uniforms of `channelSumKernel`. */
export function channelSumUniforms(n: number, c: number, p: number, inOff = 0, outOff = 0) {
  return new Uint32Array([n, c, p, inOff, outOff, 0, 0, 0]).buffer;
}

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
   * window is loaded once and feeds every output row it reaches. @default 1
   */
  rows?: number;
}

/**
 * WGSL: loads the row window x[e .. e + 4*NC) as NC vec4s shifted into place (NC+1 aligned
 * vec4 loads), zeroing elements whose column (col0 + i) is outside [0, W).
 */
function windowLoad(name: string, nc: number): string {
  return `fn ${name}_window(e: i32, col0: i32, W: i32) -> array<vec4<f32>, ${nc}> {
  var out: array<vec4<f32>, ${nc}>;
  let q = e >> 2u;
  let r = e & 3;
  var a = ${name}_chunk(q);
  for (var m = 0; m < ${nc}; m++) {
    let b = ${name}_chunk(q + m + 1);
    let s = select(select(select(a, vec4<f32>(a.yzw, b.x), r == 1), vec4<f32>(a.zw, b.xy), r == 2),
      vec4<f32>(a.w, b.xyz), r == 3);
    let col = vec4<i32>(col0 + 4 * m) + vec4<i32>(0, 1, 2, 3);
    out[m] = select(vec4<f32>(0.0), s, (col >= vec4<i32>(0)) & (col < vec4<i32>(W)));
    a = b;
  }
  return out;
}`;
}

/**
 * WGSL (named form of `windowLoad` + the tap shifts): lets win0..win<nc-1> = the row window
 * x[e .. e + 4*nc) shifted into place and masked to columns col0 + i in [0, W), as registers.
 */
function namedWindow(name: string, nc: number, e: string, col0: string, W: string): string {
  const out = [`let we = ${e};`, "let wq = we >> 2u;", "let wsh = we & 3;"];
  for (let m = 0; m <= nc; m++) out.push(`let ch${m} = ${name}_chunk(wq + ${m});`);
  for (let m = 0; m < nc; m++) {
    const a = `ch${m}`, b = `ch${m + 1}`;
    out.push(
      `let wc${m} = vec4<i32>(${col0} + ${4 * m}) + vec4<i32>(0, 1, 2, 3);`,
      `let win${m} = select(vec4<f32>(0.0), select(select(select(${a}, vec4<f32>(${a}.yzw, ${b}.x), ` +
        `wsh == 1), vec4<f32>(${a}.zw, ${b}.xy), wsh == 2), vec4<f32>(${a}.w, ${b}.xyz), wsh == 3), ` +
        `(wc${m} >= vec4<i32>(0)) & (wc${m} < vec4<i32>(${W})));`,
    );
  }
  return out.join("\n");
}

/** WGSL: the vec4 starting `s` elements into the named window (s known when generating). */
function winAt(s: number): string {
  const q = Math.floor(s / 4), r = s % 4;
  const a = `win${q}`, b = `win${q + 1}`;
  return r === 0
    ? a
    : r === 1
    ? `vec4<f32>(${a}.yzw, ${b}.x)`
    : r === 2
    ? `vec4<f32>(${a}.zw, ${b}.xy)`
    : `vec4<f32>(${a}.w, ${b}.xyz)`;
}

/** Output pixels per lane of the depthwise kernels (two vec4s). */
export const DW_TN = 8;

/**
 * WGSL main of the multi-row named depthwise kernel (`DepthwiseSpec.rows` > 1; SH = DH = 1):
 * lane = 8 outputs of `rt` consecutive rows; input row t feeds output row r with tap kh = t - r.
 */
function depthwiseRowsMain(spec: DepthwiseSpec, kw: number, dw: number, nc: number, rt: number) {
  const taps = (r: number) =>
    Array.from(
      { length: kw },
      (_, k) =>
        `{\nlet wv = vec4<f32>(w[wr + ${spec.flip ? kw - 1 - k : k}]);\n` +
        `a${r}_0 = fma(wv, ${winAt(k * dw)}, a${r}_0);\na${r}_1 = fma(wv, ${
          winAt(k * dw + 4)
        }, a${r}_1);\n}`,
    ).join("\n");
  const rowsBlock = Array.from({ length: rt }, (_, r) =>
    `if (t - ${r} >= 0 && t - ${r} < u.KH) {
let kh = t - ${r};
let wr = wc + ${spec.flip ? "(u.KH - 1 - kh) * KW" : "kh * KW"};
${taps(r)}
}`).join("\n");
  const stores = Array.from({ length: rt }, (_, r) =>
    `if (oh0 + ${r} < u.OH) {
let base = u.yOff + (n * u.O + c) * u.OH * u.OW + (oh0 + ${r}) * u.OW;
for (var j = 0; j < 4; j++) {
  if (ow0 + j < u.OW) { y[base + ow0 + j] = a${r}_0[j] + b; }
  if (ow0 + 4 + j < u.OW) { y[base + ow0 + 4 + j] = a${r}_1[j] + b; }
}
}`).join("\n");
  return `@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let OHT = (u.OH + ${rt - 1}) / ${rt};
  let oh0 = (i32(wid.y) % OHT) * ${rt};
  let n = i32(wid.y) / OHT;
  let c = i32(wid.z);
  let ow0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * ${DW_TN};
  let iw0 = ow0 - u.PW;
${
    Array.from({ length: rt }, (_, r) =>
      `var a${r}_0 = vec4<f32>(0.0);\nvar a${r}_1 = vec4<f32>(0.0);`).join("\n")
  }
  let xc = u.xOff + (n * u.C + c) * u.H * u.W;
  let wc = u.wOff + c * u.KH * KW;
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
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
${spec.bias ? "@group(0) @binding(3) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${spec.bias ? 4 : 3}) var<uniform> u: U;
const KW = ${kw};
const DW = ${dw};
${shiftedLoad("x")}
${spec.named ? "" : windowLoad("x", nc)}
${
    rt > 1 ? depthwiseRowsMain(spec, kw, dw, nc, rt) : `@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let oh = i32(wid.y) % u.OH;
  let n = i32(wid.y) / u.OH;
  let c = i32(wid.z);
  let ow0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * ${DW_TN};
  let iw0 = ow0 - u.PW;
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  let xc = u.xOff + (n * u.C + c) * u.H * u.W;
  let wc = u.wOff + c * u.KH * KW;
  for (var kh = 0; kh < u.KH; kh++) {
    let ih = oh * u.SH - u.PH + kh * u.DH;
    if (ih < 0 || ih >= u.H) { continue; }
    let wr = wc + ${spec.flip ? "(u.KH - 1 - kh) * KW" : "kh * KW"};
${
      spec.named
        ? namedWindow("x", nc, "xc + ih * u.W + iw0", "iw0", "u.W") + "\n" +
          Array.from({ length: kw }, (_, k) =>
            `{\nlet wv = vec4<f32>(w[wr + ${spec.flip ? kw - 1 - k : k}]);\n` +
            `a0 = fma(wv, ${winAt(k * dw)}, a0);\na1 = fma(wv, ${winAt(k * dw + 4)}, a1);\n}`).join(
              "\n",
            )
        : `    let win = x_window(xc + ih * u.W + iw0, iw0, u.W);
    for (var k = 0; k < KW; k++) {
      let wv = w[wr + ${spec.flip ? "KW - 1 - k" : "k"}];
      let s = k * DW;
      let q = s / 4;
      let r = s % 4;
      let v0 = select(select(select(win[q], vec4<f32>(win[q].yzw, win[q + 1].x), r == 1),
        vec4<f32>(win[q].zw, win[q + 1].xy), r == 2), vec4<f32>(win[q].w, win[q + 1].xyz), r == 3);
      let v1 = select(select(select(win[q + 1], vec4<f32>(win[q + 1].yzw, win[q + 2].x), r == 1),
        vec4<f32>(win[q + 1].zw, win[q + 2].xy), r == 2), vec4<f32>(win[q + 1].w, win[q + 2].xyz),
        r == 3);
      a0 = fma(vec4<f32>(wv), v0, a0);
      a1 = fma(vec4<f32>(wv), v1, a1);
    }`
    }
  }
  let b = ${spec.bias ? "bias[u.bOff + c]" : "0.0"};
  let base = u.yOff + (n * u.O + c) * u.OH * u.OW + oh * u.OW;
  for (var j = 0; j < 4; j++) {
    if (ow0 + j < u.OW) { y[base + ow0 + j] = a0[j] + b; }
    if (ow0 + 4 + j < u.OW) { y[base + ow0 + 4 + j] = a1[j] + b; }
  }
}`
  }
`;
  return {
    label: `depthwise_conv2d[kw${kw},dw${dw}${spec.flip ? ",flip" : ""}${spec.bias ? ",bias" : ""}${
      spec.named ? `,named,rows${rt}` : ""
    }]`,
    code,
    bindings: spec.bias ? ["write", "read", "read", "read", "uniform"] : [
      "write",
      "read",
      "read",
      "uniform",
    ],
    workgroupSize: [CONV_WG, 1, 1],
  };
}

/** Workgroups of `depthwiseConv2dKernel` (needs N*OH <= 65535). */
export function depthwiseGrid(s: ConvShape, rows = 1): [number, number, number] {
  return [Math.ceil(s.ow / (DW_TN * CONV_WG)), s.n * Math.ceil(s.oh / rows), s.o];
}

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
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> part: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> u: U;
const KW = ${kw};
const DW = ${dw};
${shiftedLoad("x")}
${spec.named ? "" : windowLoad("x", nc)}
${shiftedLoad("y")}
@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
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
        let s = k * DW;
        let q = s / 4;
        let r = s % 4;
        let v0 = select(select(select(win[q], vec4<f32>(win[q].yzw, win[q + 1].x), r == 1),
          vec4<f32>(win[q].zw, win[q + 1].xy), r == 2), vec4<f32>(win[q].w, win[q + 1].xyz), r == 3);
        let v1 = select(select(select(win[q + 1], vec4<f32>(win[q + 1].yzw, win[q + 2].x), r == 1),
          vec4<f32>(win[q + 1].zw, win[q + 2].xy), r == 2),
          vec4<f32>(win[q + 1].w, win[q + 2].xyz), r == 3);
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
  return {
    label: `depthwise_weight_grad[kw${kw},dw${dw}${spec.named ? ",named" : ""}]`,
    code,
    bindings: ["write", "read", "read", "uniform"],
    workgroupSize: [CONV_WG, 1, 1],
  };
}

/** Splits (of output rows) and workgroups of `depthwiseWeightGradKernel`. */
export function depthwiseWeightGradTiling(
  s: ConvShape,
  target = 512,
  minRows = 4,
): { splits: number; rowsPerSplit: number; grid: [number, number, number] } {
  const gx = Math.ceil(s.kh / CONV_WG);
  const base = gx * CONV_WG * s.c;
  const rows = s.n * s.oh;
  const want = Math.max(1, Math.min(Math.ceil(target / base), Math.floor(rows / minRows), 65535));
  const rowsPerSplit = Math.ceil(rows / want);
  const splits = Math.ceil(rows / rowsPerSplit);
  return { splits, rowsPerSplit, grid: [gx, splits, s.c] };
}

/**
 * Rearranges a conv weight [G*OG, CG, KH, KW] into [G*CG, OG, KH, KW] with both kernel axes
 * reversed: the weight of the stride-1 convolution that computes the input gradient (run with
 * padding D*(K-1) - P). One invocation per output element. Uniforms as `convUniforms`.
 * Bindings: out (write), w, uniforms; dispatch `convGrid(O*CG*KH*KW)`.
 */
export function convWeightFlipKernel(): KernelSource {
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
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
  return {
    label: "conv_weight_flip",
    code,
    bindings: ["write", "read", "uniform"],
    workgroupSize: [CONV_WG, 1, 1],
  };
}
