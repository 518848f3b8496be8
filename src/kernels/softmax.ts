import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";
import { LANE_WG, type ReduceForm } from "./reduce_form.ts";

/** Spec of a row-wise softmax kernel over the last dim of a contiguous [rows, cols] f32 array. */
export interface SoftmaxSpec {
  /** softmax or log_softmax. */
  kind: "softmax" | "logSoftmax";
  /** forward: y from x; backward: dx from (g, y). */
  pass: "forward" | "backward";
  /**
   * "workgroup" (default): one 64-thread workgroup per row, grid `rowWorkgroups(rows)` (real
   * GPUs). "lane": one row per invocation, 8 per workgroup, grid `laneWorkgroups(rows)` (CPU
   * adapters, see `ReduceForm`).
   */
  form?: ReduceForm;
  /** Lane form only: rows read as vec4 (cols and every offset multiples of 4). @default false */
  vec4?: boolean;
  /**
   * Lane form only: rows each invocation owns (named registers); grid
   * `laneWorkgroups(ceil(rows / rowsPerLane))`. @default 1
   */
  rowsPerLane?: number;
}

/**
 * Uniforms: rows, cols, then the element offset of row 0 in each storage binding (out, a[, b]);
 * split launches bind windows of arrays above the binding limit.
 */
export function softmaxUniforms(
  rows: number,
  cols: number,
  offsets: readonly number[] = [],
): ArrayBuffer {
  const u = new Uint32Array(8);
  u.set([rows, cols, ...offsets]);
  return u.buffer;
}

/**
 * Numerically stable softmax/log-softmax over the last dim. One 64-thread workgroup per row
 * (grid (min(rows, 65535), ceil(rows / 65535))); threads stride over the columns and combine
 * in workgroup memory. Forward: max, then sum of exp(x - max), then writes (three passes over
 * the row). Backward (from y): softmax dx = y (g - sum(g y)); log-softmax dx = g - exp(y) sum(g).
 * Bindings: out, then x (forward) or g, y (backward), each read from its own element offset.
 */
export function softmaxKernel(spec: SoftmaxSpec): KernelSource {
  return memoKernel(`softmaxKernel:${JSON.stringify(spec)}`, () => buildSoftmaxKernel(spec));
}

function buildSoftmaxKernel(spec: SoftmaxSpec): KernelSource {
  if (spec.form === "lane") return buildLaneKernel(spec);
  const fwd = spec.pass === "forward";
  const body = fwd
    ? `
  var m = -3.4028235e38;
  for (var i = lid; i < u.cols; i += 64u) { m = max(m, a[u.oA + base + i]); }
  let rowMax = wgReduce(m, lid, true);
  var s = 0.0;
  for (var i = lid; i < u.cols; i += 64u) { s += exp(a[u.oA + base + i] - rowMax); }
  let total = wgReduce(s, lid, false);
  ${
      spec.kind === "softmax"
        ? "let inv = 1.0 / total;\n  for (var i = lid; i < u.cols; i += 64u) { out[u.oO + base + i] = exp(a[u.oA + base + i] - rowMax) * inv; }"
        : "let lse = rowMax + log(total);\n  for (var i = lid; i < u.cols; i += 64u) { out[u.oO + base + i] = a[u.oA + base + i] - lse; }"
    }`
    : `
  var s = 0.0;
  for (var i = lid; i < u.cols; i += 64u) { s += ${
      spec.kind === "softmax" ? "a[u.oA + base + i] * b[u.oB + base + i]" : "a[u.oA + base + i]"
    }; }
  let total = wgReduce(s, lid, false);
  for (var i = lid; i < u.cols; i += 64u) {
    out[u.oO + base + i] = ${
      spec.kind === "softmax"
        ? "b[u.oB + base + i] * (a[u.oA + base + i] - total)"
        : "a[u.oA + base + i] - exp(b[u.oB + base + i]) * total"
    };
  }`;
  const code = `
struct U { rows: u32, cols: u32, oO: u32, oA: u32, oB: u32, p0: u32, p1: u32, p2: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
${fwd ? "" : "@group(0) @binding(2) var<storage, read> b: array<f32>;"}
@group(0) @binding(${fwd ? 2 : 3}) var<uniform> u: U;
var<workgroup> red: array<f32, 64>;
fn wgReduce(v: f32, lid: u32, isMax: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), isMax);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * 65535u;
  if (row >= u.rows) { return; }
  let base = row * u.cols;
  ${body}
}
`;
  return {
    label: `softmax[${spec.kind},${spec.pass}]`,
    code,
    bindings: fwd ? ["write", "read", "uniform"] : ["write", "read", "read", "uniform"],
    workgroupSize: [64, 1, 1],
  };
}

/**
 * Lane form: each invocation owns a row and keeps its running max / sums in (vec4) registers,
 * combined across the vector's components once at the end; no workgroup memory. Forward: a pass
 * for the max, one for sum(exp(x - max)), one writing; backward: one pass for the row sum, one
 * writing. Semantics as the workgroup form (a row of -inf gives NaN, like PyTorch).
 */
function buildLaneKernel(spec: SoftmaxSpec): KernelSource {
  const fwd = spec.pass === "forward";
  const v4 = !!spec.vec4;
  const V = v4 ? "vec4<f32>" : "f32";
  const hsum = (e: string) => v4 ? `dot(${e}, vec4<f32>(1.0))` : e;
  const hmax = (e: string) => v4 ? `max(max(${e}.x, ${e}.y), max(${e}.z, ${e}.w))` : e;
  // P rows per invocation in named registers (suffix j), independent work in every iteration.
  const P = spec.rowsPerLane ?? 1;
  const js = Array.from({ length: P }, (_, j) => j);
  const each = (f: (j: number) => string, sep = "\n  ") => js.map(f).join(sep);
  const inner = (f: (j: number) => string) => each(f, "\n    ");
  const A = (j: number) => `a[oA + b${j} + i]`, B = (j: number) => `b[oB + b${j} + i]`;
  const loop = (f: (j: number) => string) =>
    `for (var i = 0u; i < nv; i++) {\n    ${inner(f)}\n  }`;
  const body = fwd
    ? `
  ${each((j) => `var m${j} = ${V}(-3.4028235e38);`)}
  ${loop((j) => `m${j} = max(m${j}, ${A(j)});`)}
  ${each((j) => `let rowMax${j} = ${hmax(`m${j}`)};\n  var s${j} = ${V}(0.0);`)}
  ${loop((j) => `s${j} += exp(${A(j)} - rowMax${j});`)}
  ${
      spec.kind === "softmax"
        ? `${each((j) => `let inv${j} = 1.0 / ${hsum(`s${j}`)};`)}
  ${loop((j) => `out[oO + b${j} + i] = exp(${A(j)} - rowMax${j}) * inv${j};`)}`
        : `${each((j) => `let lse${j} = rowMax${j} + log(${hsum(`s${j}`)});`)}
  ${loop((j) => `out[oO + b${j} + i] = ${A(j)} - lse${j};`)}`
    }`
    : `
  ${each((j) => `var s${j} = ${V}(0.0);`)}
  ${loop((j) => `s${j} += ${spec.kind === "softmax" ? `${A(j)} * ${B(j)}` : A(j)};`)}
  ${each((j) => `let total${j} = ${hsum(`s${j}`)};`)}
  ${
      loop((j) =>
        `out[oO + b${j} + i] = ${
          spec.kind === "softmax"
            ? `${B(j)} * (${A(j)} - total${j})`
            : `${A(j)} - exp(${B(j)}) * total${j}`
        };`
      )
    }`;
  const div = v4 ? " / 4u" : "";
  // Rows past the end (rows not a multiple of P) repeat the last row: the same invocation
  // writes the same values twice, nothing else touches them.
  const code = `
struct U { rows: u32, cols: u32, oO: u32, oA: u32, oB: u32, p0: u32, p1: u32, p2: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<${V}>;
@group(0) @binding(1) var<storage, read> a: array<${V}>;
${fwd ? "" : `@group(0) @binding(2) var<storage, read> b: array<${V}>;`}
@group(0) @binding(${fwd ? 2 : 3}) var<uniform> u: U;
@compute @workgroup_size(${LANE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let first = ((wid.x + wid.y * 65535u) * ${LANE_WG}u + lid) * ${P}u;
  if (first >= u.rows) { return; }
  let nv = u.cols${div};
  ${each((j) => `let b${j} = min(first + ${j}u, u.rows - 1u) * nv;`)}
  let oO = u.oO${div};
  let oA = u.oA${div};
  ${fwd ? "" : `let oB = u.oB${div};`}
  ${body}
}
`;
  return {
    label: `softmax[${spec.kind},${spec.pass},lane${v4 ? ",vec4" : ""},rows${P}]`,
    code,
    bindings: fwd ? ["write", "read", "uniform"] : ["write", "read", "read", "uniform"],
    workgroupSize: [LANE_WG, 1, 1],
  };
}

/** Workgroups for one workgroup per row. */
export function rowWorkgroups(rows: number): [number, number] {
  return [Math.max(1, Math.min(rows, 65535)), Math.max(1, Math.ceil(rows / 65535))];
}
