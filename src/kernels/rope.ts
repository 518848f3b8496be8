/**
 * SAM 2 axial 2-D rotary position encoding (RoPE) kernel.
 *
 * x is [BH, L, d] row-major f32, viewed as (even, odd) channel pairs; pair c of token t rotates
 * by the angle in `table[pos, c]` with pos = t % npos (SAM 2 `rope_k_repeat` tiles the positions
 * over memory frames), and tokens t >= `rot` (the last `num_k_exclude_rope`, object pointers) are
 * copied unchanged. The backward is the same kernel with `inverse` (rotation by -angle).
 *
 * The cos/sin table is computed on the host in float64 (`axialCisTable`), because WGSL's sin/cos
 * are only specified to 2⁻¹¹ absolute error inside [-π, π] and angles reach ~64 rad here. One
 * invocation per channel pair, 64 per workgroup; workgroup (x, y) covers pairs
 * (x + y·65535)·64 .. +64.
 */
import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";

/** Workgroup size of the RoPE kernel. */
export const ROPE_WG = 64;

/**
 * [endX·endY, d/2] (cos, sin) pairs as compute_axial_cis gives them: pair c < d/4 uses
 * t_x = t % endX with frequency 1/theta^(4c/d); pair c >= d/4 uses t_y = floor(t / endX) with
 * the frequency of c - d/4.
 *
 * @throws {RangeError} when d is not a multiple of 4 (SAM 2 splits the pairs into two halves).
 */
export function axialCisTable(d: number, endX: number, endY: number, theta = 10000): Float32Array {
  if (d % 4 !== 0) throw new RangeError(`Axial RoPE needs a head dim divisible by 4, got ${d}`);
  const half = d / 2, quarter = d / 4;
  const out = new Float32Array(endX * endY * half * 2);
  for (let t = 0; t < endX * endY; t++) {
    const tx = t % endX, ty = Math.floor(t / endX);
    for (let c = 0; c < half; c++) {
      const a = (c < quarter ? tx : ty) / Math.pow(theta, (4 * (c % quarter)) / d);
      out[(t * half + c) * 2] = Math.cos(a);
      out[(t * half + c) * 2 + 1] = Math.sin(a);
    }
  }
  return out;
}

/** Uniforms of the RoPE kernel. */
export interface RopeUniforms {
  /** Total channel pairs BH·L·d/2. */
  pairs: number;
  /** Tokens per head L. */
  l: number;
  /** Pairs per token d/2. */
  half: number;
  /** Tokens rotated (L minus the excluded tail). */
  rot: number;
  /** Positions in the table (endX·endY). */
  npos: number;
  /** Rotate by -angle (backward). */
  inverse: boolean;
}

/** Packs `RopeUniforms`. */
export function ropeUniforms(u: RopeUniforms): Uint32Array {
  return new Uint32Array([u.pairs, u.l, u.half, u.rot, u.npos, u.inverse ? 1 : 0, 0, 0]);
}

/** Workgroups covering `pairs` channel pairs. */
export function ropeWorkgroups(pairs: number): [number, number, number] {
  const n = Math.ceil(pairs / ROPE_WG);
  return [Math.min(n, 65535), Math.ceil(n / 65535), 1];
}

/** Bindings: x (vec2 pairs), table (cos, sin), out, uniforms. */
export function ropeKernel(): KernelSource {
  return memoKernel("rope_axial", buildRopeKernel);
}

function buildRopeKernel(): KernelSource {
  const code = `
struct U { pairs: u32, l: u32, half: u32, rot: u32, npos: u32, inverse: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<storage, read> x: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec2<f32>>;
@group(0) @binding(3) var<uniform> u: U;

@compute @workgroup_size(${ROPE_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x + gid.y * ${65535 * ROPE_WG}u;
  if (idx >= u.pairs) { return; }
  let c = idx % u.half;
  let t = (idx / u.half) % u.l;
  let a = x[idx];
  if (t >= u.rot) { out[idx] = a; return; }
  var cs = table[(t % u.npos) * u.half + c];
  if (u.inverse == 1u) { cs.y = -cs.y; }
  out[idx] = vec2<f32>(a.x * cs.x - a.y * cs.y, a.x * cs.y + a.y * cs.x);
}
`;
  return {
    label: "rope_axial",
    code,
    bindings: ["read", "read", "write", "uniform"],
    workgroupSize: [ROPE_WG, 1, 1],
  };
}
