/**
 * Reductions that finish conv gradients: split partial sums and per-channel (bias) sums.
 *
 * @module
 */
import type { KernelSource } from "../gpu/kernel_source.ts";
import { CONV_WG } from "./conv_shape.ts";
import { convKernel } from "./conv_wgsl.ts";

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
  return convKernel(`split_sum[${spec.accumulate ? "acc" : "set"}]`, code, { reads: 1 });
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
