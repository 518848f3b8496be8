import type { KernelSource } from "../gpu/kernel_source.ts";

/**
 * LayerNorm2d (SAM 2): normalises x [N, C, H, W] over C at every pixel with the biased variance,
 * then y = xhat * weight[c] + bias[c]. Pixel-wise kernels put one pixel per invocation (64 per
 * workgroup, consecutive pixels in neighbouring lanes) and walk the channels with stride H*W;
 * the parameter gradients are per-channel reductions (one 64-invocation workgroup per channel).
 */

/** Workgroup width of the norm2d kernels. */
export const NORM2D_WG = 64;

const UNIFORMS = `struct U {
  N: u32, C: u32, HW: u32, xOff: u32,
  gOff: u32, eps: f32, gridX: u32, runs: u32,
  yOff: u32, mOff: u32, pOff: u32, p1: u32,
};`;

/**
 * Element offsets, inside their bindings, of the operands a split launch binds as windows (see
 * `planChunks`): y or gx, mean and rstd (the same for both), and the parameter-gradient outputs.
 */
export interface Norm2dOffsets {
  /** Offset of y (forward) or gx (input gradient). @default 0 */
  yOff?: number;
  /** Offset of mean and rstd. @default 0 */
  mOff?: number;
  /** Offset of the parameter-gradient outputs (partial results of a block of items). @default 0 */
  pOff?: number;
  /** Parameter gradients: runs of pixels per channel (partial sums [C, runs]). @default 1 */
  runs?: number;
}

/**
 * Uniforms: N, C, H*W, x offset, g offset (elements), eps, grid width in invocations, runs of
 * the parameter gradients, then the offsets of the other operands (`Norm2dOffsets`).
 */
export function norm2dUniforms(
  n: number,
  c: number,
  hw: number,
  eps: number,
  grid: readonly number[],
  xOff = 0,
  gOff = 0,
  { yOff = 0, mOff = 0, pOff = 0, runs = 1 }: Norm2dOffsets = {},
): ArrayBuffer {
  const buf = new ArrayBuffer(48);
  new Uint32Array(buf).set([n, c, hw, xOff, gOff, 0, grid[0] * NORM2D_WG, runs, yOff, mOff, pOff]);
  new Float32Array(buf)[5] = eps;
  return buf;
}

/** Grid of `norm2dForwardKernel` / `norm2dInputGradKernel`: one invocation per pixel. */
export function norm2dPixelGrid(pixels: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(pixels / NORM2D_WG));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

/**
 * Forward: per pixel (n, p) a first pass over C for the mean, a second for the biased variance
 * (two passes: no cancellation), a third writing y; mean and rstd = 1/sqrt(var + eps) are written
 * for the backward. Bindings: y (write), mean (write [N*HW]), rstd (write [N*HW]), x, weight,
 * bias, uniforms. Dispatch: `norm2dPixelGrid(N*H*W)`.
 */
export function norm2dForwardKernel(): KernelSource {
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> b: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
@compute @workgroup_size(${NORM2D_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * u.gridX;
  if (i >= u.N * u.HW) { return; }
  let n = i / u.HW;
  let p = i % u.HW;
  let base = n * u.C * u.HW + p;
  var s = 0.0;
  for (var c = 0u; c < u.C; c++) { s += x[u.xOff + base + c * u.HW]; }
  let m = s / f32(u.C);
  var v = 0.0;
  for (var c = 0u; c < u.C; c++) {
    let d = x[u.xOff + base + c * u.HW] - m;
    v += d * d;
  }
  let r = inverseSqrt(v / f32(u.C) + u.eps);
  for (var c = 0u; c < u.C; c++) {
    y[u.yOff + base + c * u.HW] = (x[u.xOff + base + c * u.HW] - m) * r * w[c] + b[c];
  }
  mean[u.mOff + i] = m;
  rstd[u.mOff + i] = r;
}
`;
  return {
    label: "layer_norm2d_forward",
    code,
    bindings: ["write", "write", "write", "read", "read", "read", "uniform"],
    workgroupSize: [NORM2D_WG, 1, 1],
  };
}

/**
 * Input gradient: per pixel, with gh = g * weight[c] and xhat = (x - mean) * rstd,
 * gx = rstd * (gh - mean_c(gh) - xhat * mean_c(gh * xhat)). Bindings: gx (write), g, x, mean,
 * rstd, weight, uniforms (gOff = offset of g). Dispatch: `norm2dPixelGrid(N*H*W)`.
 */
export function norm2dInputGradKernel(): KernelSource {
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> gx: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read> w: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
@compute @workgroup_size(${NORM2D_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * u.gridX;
  if (i >= u.N * u.HW) { return; }
  let n = i / u.HW;
  let p = i % u.HW;
  let base = n * u.C * u.HW + p;
  let m = mean[u.mOff + i];
  let r = rstd[u.mOff + i];
  var m1 = 0.0;
  var m2 = 0.0;
  for (var c = 0u; c < u.C; c++) {
    let k = base + c * u.HW;
    let gh = g[u.gOff + k] * w[c];
    m1 += gh;
    m2 += gh * (x[u.xOff + k] - m) * r;
  }
  m1 = m1 / f32(u.C);
  m2 = m2 / f32(u.C);
  for (var c = 0u; c < u.C; c++) {
    let k = base + c * u.HW;
    let gh = g[u.gOff + k] * w[c];
    gx[u.yOff + k] = r * (gh - m1 - (x[u.xOff + k] - m) * r * m2);
  }
}
`;
  return {
    label: "layer_norm2d_input_grad",
    code,
    bindings: ["write", "read", "read", "read", "read", "read", "uniform"],
    workgroupSize: [NORM2D_WG, 1, 1],
  };
}

/**
 * Parameter gradients: gw[c] = sum over (n, p) of g * xhat, gb[c] = sum of g. One 64-invocation
 * workgroup per (channel, run of pixels); invocations stride over the run's pixels (at most
 * 64 x 65,535 of them: llvmpipe's loop cap), then a tree in workgroup memory. Writes partial
 * sums [C, runs] (at pOff) that the caller sums over runs when there is more than one.
 * Bindings: gw (write), gb (write), g, x, mean, rstd, uniforms (runs at index 7, see
 * `norm2dUniforms`). Dispatch: (C, runs, 1).
 */
export function norm2dParamGradKernel(): KernelSource {
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> gw: array<f32>;
@group(0) @binding(1) var<storage, read_write> gb: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
var<workgroup> rw: array<f32, ${NORM2D_WG}>;
var<workgroup> rb: array<f32, ${NORM2D_WG}>;
@compute @workgroup_size(${NORM2D_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let runs = max(u.runs, 1u);
  let total = u.N * u.HW;
  let len = (total + runs - 1u) / runs;
  let lo = min(wid.y * len, total);
  let hi = min(lo + len, total);
  var sw = 0.0;
  var sb = 0.0;
  for (var i = lo + lid; i < hi; i += ${NORM2D_WG}u) {
    let n = i / u.HW;
    let k = (n * u.C + c) * u.HW + i % u.HW;
    let gv = g[u.gOff + k];
    sw += gv * (x[u.xOff + k] - mean[u.mOff + i]) * rstd[u.mOff + i];
    sb += gv;
  }
  rw[lid] = sw;
  rb[lid] = sb;
  workgroupBarrier();
  for (var h = ${NORM2D_WG / 2}u; h > 0u; h >>= 1u) {
    if (lid < h) {
      rw[lid] += rw[lid + h];
      rb[lid] += rb[lid + h];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    gw[u.pOff + c * runs + wid.y] = rw[0];
    gb[u.pOff + c * runs + wid.y] = rb[0];
  }
}
`;
  return {
    label: "layer_norm2d_param_grad",
    code,
    bindings: ["write", "write", "read", "read", "read", "read", "uniform"],
    workgroupSize: [NORM2D_WG, 1, 1],
  };
}
