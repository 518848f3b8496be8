import type { KernelSource } from "../gpu/kernel_source.ts";

/**
 * Separable resampling along one axis with a tap table: every F.interpolate mode used here
 * (nearest, bilinear, bicubic, antialiased bilinear) is a product of per-axis linear maps, and so
 * are their backwards (the transposed maps). The input is viewed as [A, Lin, B] (contiguous from
 * `inOff`), the output as [A, Lout, B]; `table` holds, per output index o, T+2 f32 values:
 * first input index, tap count, then the tap weights (taps are consecutive input indices).
 */

/** Workgroup width of the resample kernel. */
export const RESAMPLE_WG = 64;

/** Uniforms: A, Lin, Lout, B, T (taps per table row), input offset, grid width. */
export function resampleUniforms(
  a: number,
  lin: number,
  lout: number,
  b: number,
  taps: number,
  inOff: number,
  grid: readonly number[],
): ArrayBuffer {
  return new Uint32Array([a, lin, lout, b, taps, inOff, grid[0] * RESAMPLE_WG, 0]).buffer;
}

/** A 2-D grid of 64-wide workgroups, one invocation per output element. */
export function resampleGrid(outputs: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(outputs / RESAMPLE_WG));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

/**
 * out[a, o, b] = sum over j < count[o] of weight[o, j] * in[a, first[o] + j, b]. One invocation
 * per output element in flat order (neighbouring lanes take neighbouring b, or neighbouring o
 * when B == 1). Bindings: out (write), in, table, uniforms. Dispatch: `resampleGrid(A*Lout*B)`.
 */
export function resampleAxisKernel(): KernelSource {
  const code =
    `struct U { A: u32, Lin: u32, Lout: u32, B: u32, T: u32, inOff: u32, gridX: u32, p0: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${RESAMPLE_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * u.gridX;
  if (i >= u.A * u.Lout * u.B) { return; }
  let b = i % u.B;
  let o = (i / u.B) % u.Lout;
  let a = i / (u.B * u.Lout);
  let row = o * (u.T + 2u);
  let first = u32(table[row]);
  let count = u32(table[row + 1u]);
  var base = u.inOff + (a * u.Lin + first) * u.B + b;
  var s = 0.0;
  for (var j = 0u; j < count; j++) {
    s += table[row + 2u + j] * src[base];
    base += u.B;
  }
  out[i] = s;
}
`;
  return {
    label: "resample_axis",
    code,
    bindings: ["write", "read", "read", "uniform"],
    workgroupSize: [RESAMPLE_WG, 1, 1],
  };
}

/** Workgroups of `resampleRowsKernel` (needs Lout <= 65535 and A <= 65535). */
export function resampleRowsGrid(a: number, lout: number, b: number): [number, number, number] {
  return [Math.ceil(b / RESAMPLE_WG), lout, a];
}

/**
 * The same resampling when B > 1 (the H pass over [A, H, W] rows): workgroup (x, y, z) = (64
 * consecutive b, output index o, a), so the table row is a uniform load and each lane reads its
 * column's taps, neighbouring lanes at neighbouring addresses. Bindings and uniforms as
 * `resampleAxisKernel`. Dispatch: `resampleRowsGrid`.
 */
export function resampleRowsKernel(): KernelSource {
  const code =
    `struct U { A: u32, Lin: u32, Lout: u32, B: u32, T: u32, inOff: u32, gridX: u32, p0: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${RESAMPLE_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let o = wid.y;
  let a = wid.z;
  let b = wid.x * ${RESAMPLE_WG}u + lid.x;
  let row = o * (u.T + 2u);
  let first = u32(table[row]);
  let count = u32(table[row + 1u]);
  var at = u.inOff + (a * u.Lin + first) * u.B + min(b, u.B - 1u);
  var s = 0.0;
  for (var j = 0u; j < count; j++) {
    s += table[row + 2u + j] * src[at];
    at += u.B;
  }
  if (b < u.B) { out[(a * u.Lout + o) * u.B + b] = s; }
}
`;
  return {
    label: "resample_rows",
    code,
    bindings: ["write", "read", "read", "uniform"],
    workgroupSize: [RESAMPLE_WG, 1, 1],
  };
}
