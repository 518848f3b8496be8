import type { KernelSource } from "../gpu/kernel_source.ts";

/**
 * Max pooling (NCHW, f32 values, i32 indices). The input is read through its strides, so a
 * permuted NHWC tensor (SAM 2's q-pool does `permute(0, 3, 1, 2)` first) needs no copy.
 */

/** Workgroup width of the pool kernels. */
export const POOL_WG = 64;

/** Geometry of a max_pool2d launch. */
export interface PoolShape {
  n: number;
  c: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  kernel: readonly [number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
}

const UNIFORMS = `struct U {
  N: i32, C: i32, H: i32, W: i32,
  OH: i32, OW: i32, KH: i32, KW: i32,
  SH: i32, SW: i32, PH: i32, PW: i32,
  DH: i32, DW: i32, xOff: i32, gridX: i32,
  sN: i32, sC: i32, sH: i32, sW: i32,
};`;

/**
 * Uniforms of the pool kernels: geometry, the x element offset and strides (forward; the
 * backward reads contiguous tensors and ignores them) and the grid width in invocations.
 */
export function poolUniforms(
  s: PoolShape,
  grid: readonly number[],
  xOffset = 0,
  xStrides: readonly number[] = [s.c * s.h * s.w, s.h * s.w, s.w, 1],
): ArrayBuffer {
  return new Int32Array([
    s.n,
    s.c,
    s.h,
    s.w,
    s.oh,
    s.ow,
    s.kernel[0],
    s.kernel[1],
    s.stride[0],
    s.stride[1],
    s.padding[0],
    s.padding[1],
    s.dilation[0],
    s.dilation[1],
    xOffset,
    grid[0] * POOL_WG,
    ...xStrides,
  ]).buffer;
}

/** A 2-D grid of 64-wide workgroups covering `invocations` (x at most 65535). */
export function poolGrid(invocations: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(invocations / POOL_WG));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

/**
 * max_pool2d forward, one invocation per output element (flat NCHW index, 64 per workgroup).
 * Scans the window row-major, skipping padded cells, and keeps the FIRST maximum (update only on
 * `>` or NaN: PyTorch's CPU rule); writes the value and the flat index ih*W + iw within the
 * (n, c) plane. Bindings: y (write), indices (write, i32), x, uniforms. Dispatch:
 * `poolGrid(N*C*OH*OW)`.
 */
export function maxPool2dKernel(): KernelSource {
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> ind: array<i32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${POOL_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = i32(gid.x) + i32(gid.y) * u.gridX;
  if (i >= u.N * u.C * u.OH * u.OW) { return; }
  let ow = i % u.OW;
  let oh = (i / u.OW) % u.OH;
  let c = (i / (u.OW * u.OH)) % u.C;
  let n = i / (u.OW * u.OH * u.C);
  let base = u.xOff + n * u.sN + c * u.sC;
  var best = bitcast<f32>(0xff800000u); // -inf
  var seen = false;
  var bi = -1;
  for (var kh = 0; kh < u.KH; kh++) {
    let ih = oh * u.SH - u.PH + kh * u.DH;
    if (ih < 0 || ih >= u.H) { continue; }
    for (var kw = 0; kw < u.KW; kw++) {
      let iw = ow * u.SW - u.PW + kw * u.DW;
      if (iw < 0 || iw >= u.W) { continue; }
      let v = x[base + ih * u.sH + iw * u.sW];
      if (!seen) { bi = ih * u.W + iw; seen = true; }
      if (v > best || v != v) { best = v; bi = ih * u.W + iw; }
    }
  }
  y[i] = best;
  ind[i] = bi;
}
`;
  return {
    label: "max_pool2d",
    code,
    bindings: ["write", "write", "read", "uniform"],
    workgroupSize: [POOL_WG, 1, 1],
  };
}

/**
 * max_pool2d backward as a gather (no atomics): one invocation per input element sums the output
 * gradients of every window that contains it and picked it (indices[n, c, oh, ow] == ih*W + iw).
 * Bindings: gx (write), g (contiguous [N, C, OH, OW] from element `xOff`), indices, uniforms.
 * Dispatch:
 * `poolGrid(N*C*H*W)`.
 */
export function maxPool2dBackwardKernel(): KernelSource {
  const code = `${UNIFORMS}
@group(0) @binding(0) var<storage, read_write> gx: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> ind: array<i32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${POOL_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = i32(gid.x) + i32(gid.y) * u.gridX;
  if (i >= u.N * u.C * u.H * u.W) { return; }
  let iw = i % u.W;
  let ih = (i / u.W) % u.H;
  let nc = i / (u.W * u.H);
  let me = ih * u.W + iw;
  var s = 0.0;
  for (var kh = 0; kh < u.KH; kh++) {
    let th = ih + u.PH - kh * u.DH;
    let oh = th / u.SH;
    if (th < 0 || oh * u.SH != th || oh >= u.OH) { continue; }
    for (var kw = 0; kw < u.KW; kw++) {
      let tw = iw + u.PW - kw * u.DW;
      let ow = tw / u.SW;
      if (tw < 0 || ow * u.SW != tw || ow >= u.OW) { continue; }
      let o = (nc * u.OH + oh) * u.OW + ow;
      if (ind[o] == me) { s += g[u.xOff + o]; }
    }
  }
  gx[i] = s;
}
`;
  return {
    label: "max_pool2d_backward",
    code,
    bindings: ["write", "read", "read", "uniform"],
    workgroupSize: [POOL_WG, 1, 1],
  };
}
