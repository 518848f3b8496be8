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

/** Uniforms of `resample2dKernel`: NC, Hin, Win, Hout, Wout, Ty, Tx, input offset. */
export function resample2dUniforms(
  nc: number,
  hin: number,
  win: number,
  hout: number,
  wout: number,
  ty: number,
  tx: number,
  inOff: number,
): ArrayBuffer {
  return new Uint32Array([nc, hin, win, hout, wout, ty, tx, inOff]).buffer;
}

/** Workgroups of `resample2dKernel` (needs NC <= 65535 and Hout <= 65535). */
export function resample2dGrid(nc: number, hout: number, wout: number): [number, number, number] {
  return [Math.ceil(wout / RESAMPLE_WG), hout, nc];
}

/**
 * Both axes in one pass: out[nc, r, c] = sum over a, b of ty[r].w[a] * tx[c].w[b] *
 * in[nc, ty[r].first + a, tx[c].first + b] (tables as in `resampleAxisKernel`; the transposed
 * tables give the backward). Workgroup (x, y, z) = (64 output columns, output row r, plane nc):
 * the row's table entries are uniform loads, each lane reads its column's taps. Bindings: out
 * (write), in, tableY, tableX, uniforms. Dispatch: `resample2dGrid`.
 */
export function resample2dKernel(): KernelSource {
  const code =
    `struct U { NC: u32, Hin: u32, Win: u32, Hout: u32, Wout: u32, Ty: u32, Tx: u32, inOff: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> ty: array<f32>;
@group(0) @binding(3) var<storage, read> tx: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
@compute @workgroup_size(${RESAMPLE_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.y;
  let nc = wid.z;
  let c = wid.x * ${RESAMPLE_WG}u + lid.x;
  let ry = r * (u.Ty + 2u);
  let fy = u32(ty[ry]);
  let ny = u32(ty[ry + 1u]);
  let cc = min(c, u.Wout - 1u);
  let rx = cc * (u.Tx + 2u);
  let fx = u32(tx[rx]);
  let nx = u32(tx[rx + 1u]);
  var s = 0.0;
  var row = u.inOff + (nc * u.Hin + fy) * u.Win + fx;
  for (var a = 0u; a < ny; a++) {
    var t = 0.0;
    for (var b = 0u; b < nx; b++) { t += tx[rx + 2u + b] * src[row + b]; }
    s += ty[ry + 2u + a] * t;
    row += u.Win;
  }
  if (c < u.Wout) { out[(nc * u.Hout + r) * u.Wout + c] = s; }
}
`;
  return {
    label: "resample_2d",
    code,
    bindings: ["write", "read", "read", "read", "uniform"],
    workgroupSize: [RESAMPLE_WG, 1, 1],
  };
}
