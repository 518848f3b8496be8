import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";
import { LANE_WG, type ReduceForm } from "./reduce_form.ts";

/** Spec of the fused last-dim LayerNorm kernels (f32, contiguous [rows, cols]). */
export interface LayerNormSpec {
  /** forward: y, mean, rstd from x (w, b); backward: dx from g, x, mean, rstd (w). */
  pass: "forward" | "backward";
  /** Whether there is a weight (and, forward, a bias). */
  affine: boolean;
  /**
   * "workgroup" (default): one 64-thread workgroup per row, reductions in workgroup memory (real
   * GPUs). "lane": 8-invocation workgroups, one row per invocation (CPU adapters, see
   * `ReduceForm`); grid `laneWorkgroups(rows)`.
   */
  form?: ReduceForm;
  /**
   * Lane form only: rows and weights are read as vec4 (cols and every row / weight offset must
   * be multiples of 4). @default false
   */
  vec4?: boolean;
  /**
   * Lane form only: rows each invocation owns (named registers; one weight / bias load serves
   * them all); grid `laneWorkgroups(ceil(rows / rowsPerLane))`. @default 1
   */
  rowsPerLane?: number;
}

/**
 * Uniforms: rows, cols, eps, then one element offset per storage binding (in binding order: where
 * row 0 of that array starts in what is bound; split launches bind windows).
 */
export function layerNormUniforms(
  rows: number,
  cols: number,
  eps: number,
  offsets: readonly number[] = [],
): ArrayBuffer {
  const b = new ArrayBuffer(48);
  const u = new Uint32Array(b);
  u.set([rows, cols]);
  new Float32Array(b)[2] = eps;
  u.set(offsets, 4);
  return b;
}

/**
 * LayerNorm over the last dim, one 64-thread workgroup per row (grid as `rowWorkgroups`).
 * Forward: two passes for the statistics (mean, then the mean of squared deviations: biased
 * variance, like PyTorch), a third writes y = (x - mean) * rstd * w + b and saves mean/rstd per
 * row. Backward: dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) with gw = g * w; weight
 * and bias gradients are column sums done by the caller.
 * Forward bindings: y, mean, rstd, x, [w, b], uniforms. Backward: dx, g, x, mean, rstd, [w], uniforms.
 * Every binding is read from its own element offset (uniforms), so a launch over a block of rows
 * may bind windows of arrays above the binding limit.
 */
export function layerNormKernel(spec: LayerNormSpec): KernelSource {
  return memoKernel(`layerNormKernel:${JSON.stringify(spec)}`, () => buildLayerNormKernel(spec));
}

function buildLayerNormKernel(spec: LayerNormSpec): KernelSource {
  if (spec.form === "lane") return buildLaneKernel(spec);
  const fwd = spec.pass === "forward";
  const aff = spec.affine;
  const decl = fwd
    ? `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
${
      aff
        ? "@group(0) @binding(4) var<storage, read> w: array<f32>;\n@group(0) @binding(5) var<storage, read> bias: array<f32>;"
        : ""
    }
@group(0) @binding(${aff ? 6 : 4}) var<uniform> u: U;`
    : `@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
${aff ? "@group(0) @binding(5) var<storage, read> w: array<f32>;" : ""}
@group(0) @binding(${aff ? 6 : 5}) var<uniform> u: U;`;
  const body = fwd
    ? `
  var s = 0.0;
  for (var i = lid; i < u.cols; i += 64u) { s += x[oX + base + i]; }
  let mu = wgSum(s, lid) / f32(u.cols);
  var q = 0.0;
  for (var i = lid; i < u.cols; i += 64u) { let d = x[oX + base + i] - mu; q += d * d; }
  let r = inverseSqrt(wgSum(q, lid) / f32(u.cols) + u.eps);
  for (var i = lid; i < u.cols; i += 64u) {
    y[oY + base + i] = (x[oX + base + i] - mu) * r${aff ? " * w[oW + i] + bias[oB + i]" : ""};
  }
  if (lid == 0u) { mean[oM + row] = mu; rstd[oR + row] = r; }`
    : `
  let mu = mean[oM + row];
  let r = rstd[oR + row];
  var s1 = 0.0;
  var s2 = 0.0;
  for (var i = lid; i < u.cols; i += 64u) {
    let gw = g[oG + base + i]${aff ? " * w[oW + i]" : ""};
    s1 += gw;
    s2 += gw * (x[oX + base + i] - mu) * r;
  }
  let m1 = wgSum(s1, lid) / f32(u.cols);
  let m2 = wgSum(s2, lid) / f32(u.cols);
  for (var i = lid; i < u.cols; i += 64u) {
    let gw = g[oG + base + i]${aff ? " * w[oW + i]" : ""};
    dx[oD + base + i] = r * (gw - m1 - (x[oX + base + i] - mu) * r * m2);
  }`;
  // Element offset of each binding (uniform `o`, in binding order).
  const names = fwd ? ["oY", "oM", "oR", "oX", "oW", "oB"] : ["oD", "oG", "oX", "oM", "oR", "oW"];
  const offs = names.slice(0, fwd ? (aff ? 6 : 4) : (aff ? 6 : 5))
    .map((v, k) => `let ${v} = u.o[${k >> 2}][${k & 3}];`).join(" ");
  const code = `
struct U { rows: u32, cols: u32, eps: f32, p0: u32, o: array<vec4<u32>, 2> };
${decl}
var<workgroup> red: array<f32, 64>;
fn wgSum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
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
  ${offs}
  ${body}
}
`;
  const n = fwd ? (aff ? 6 : 4) : (aff ? 6 : 5);
  const outs = fwd ? 3 : 1;
  return {
    label: `layer_norm[${spec.pass}${aff ? ",affine" : ""}]`,
    code,
    bindings: [
      ...Array.from({ length: n }, (_, i) => i < outs ? "write" as const : "read" as const),
      "uniform",
    ],
    workgroupSize: [64, 1, 1],
  };
}

/**
 * Lane form: each invocation owns one row (8 per workgroup), no workgroup memory. Forward: one
 * pass accumulates the sum and the sum of squares of x - k, shifted by the row's first element k
 * (so the variance does not cancel when |mean| >> std: var = E[(x-k)^2] - E[x-k]^2, biased, like
 * PyTorch), in vec4 registers whose lanes are added at the end; a second pass writes y. Backward:
 * one pass for sum(g w) and sum(g w (x - mean)), a second writes dx. With `vec4` every row /
 * weight binding is an array of vec4 (4 columns per load).
 */
function buildLaneKernel(spec: LayerNormSpec): KernelSource {
  const fwd = spec.pass === "forward";
  const aff = spec.affine;
  const v4 = !!spec.vec4;
  const V = v4 ? "vec4<f32>" : "f32";
  const W = v4 ? 4 : 1;
  const hsum = (e: string) => v4 ? `dot(${e}, vec4<f32>(1.0))` : e;
  const row = (name: string, i: number, write = false) =>
    `@group(0) @binding(${i}) var<storage, ${write ? "read_write" : "read"}> ${name}: array<${V}>;`;
  const stat = (name: string, i: number, write = false) =>
    `@group(0) @binding(${i}) var<storage, ${write ? "read_write" : "read"}> ${name}: array<f32>;`;
  const decl = fwd
    ? [
      row("y", 0, true),
      stat("mean", 1, true),
      stat("rstd", 2, true),
      row("x", 3),
      ...(aff ? [row("w", 4), row("bias", 5)] : []),
    ]
    : [
      row("dx", 0, true),
      row("g", 1),
      row("x", 2),
      stat("mean", 3),
      stat("rstd", 4),
      ...(aff ? [row("w", 5)] : []),
    ];
  const names = fwd ? ["oY", "oM", "oR", "oX", "oW", "oB"] : ["oD", "oG", "oX", "oM", "oR", "oW"];
  const n = decl.length;
  // Stat offsets are in elements, row/weight offsets in vectors.
  const isStat = (v: string) => v === "oM" || v === "oR";
  const offs = names.slice(0, n).map((v, k) =>
    `let ${v} = u.o[${k >> 2}][${k & 3}]${isStat(v) || !v4 ? "" : " / 4u"};`
  ).join("\n  ");
  // P rows per invocation in named registers (suffix j): one weight / bias load serves all P.
  const P = spec.rowsPerLane ?? 1;
  const js = Array.from({ length: P }, (_, j) => j);
  const each = (f: (j: number) => string, sep = "\n  ") => js.map(f).join(sep);
  const inner = (f: (j: number) => string) => each(f, "\n    ");
  const wv = aff ? " * wi" : "";
  const wload = aff ? "let wi = w[oW + i];" : "";
  const body = fwd
    ? `
  ${
      each((j) =>
        `let k${j} = x[oX + b${j}]${
          v4 ? ".x" : ""
        };\n  var s${j} = ${V}(0.0);\n  var q${j} = ${V}(0.0);`
      )
    }
  for (var i = 0u; i < nv; i++) {
    ${
      inner((j) =>
        `let d${j} = x[oX + b${j} + i] - k${j};\n    s${j} += d${j};\n    q${j} += d${j} * d${j};`
      )
    }
  }
  let c = f32(u.cols);
  ${
      each((j) =>
        `let dm${j} = ${hsum(`s${j}`)} / c;\n  let mu${j} = k${j} + dm${j};\n  ` +
        `let r${j} = inverseSqrt(max(${hsum(`q${j}`)} / c - dm${j} * dm${j}, 0.0) + u.eps);`
      )
    }
  for (var i = 0u; i < nv; i++) {
    ${wload}
    ${aff ? "let bi = bias[oB + i];" : ""}
    ${
      inner((j) =>
        `y[oY + b${j} + i] = (x[oX + b${j} + i] - mu${j}) * r${j}${wv}${aff ? " + bi" : ""};`
      )
    }
  }
  ${each((j) => `mean[oM + row${j}] = mu${j};\n  rstd[oR + row${j}] = r${j};`)}`
    : `
  ${
      each((j) =>
        `let mu${j} = mean[oM + row${j}];\n  let r${j} = rstd[oR + row${j}];\n  ` +
        `var s1${j} = ${V}(0.0);\n  var s2${j} = ${V}(0.0);`
      )
    }
  for (var i = 0u; i < nv; i++) {
    ${wload}
    ${
      inner((j) =>
        `let gw${j} = g[oG + b${j} + i]${wv};\n    s1${j} += gw${j};\n    ` +
        `s2${j} += gw${j} * (x[oX + b${j} + i] - mu${j});`
      )
    }
  }
  let c = f32(u.cols);
  ${
      each((j) =>
        `let m1${j} = ${hsum(`s1${j}`)} / c;\n  let m2${j} = ${hsum(`s2${j}`)} * r${j} * r${j} / c;`
      )
    }
  for (var i = 0u; i < nv; i++) {
    ${wload}
    ${
      inner((j) =>
        `dx[oD + b${j} + i] = r${j} * (g[oG + b${j} + i]${wv} - m1${j}) - ` +
        `(x[oX + b${j} + i] - mu${j}) * (r${j} * m2${j});`
      )
    }
  }`;
  // Rows past the end (rows not a multiple of P) repeat the last row: the same invocation
  // writes the same values twice, nothing else touches them.
  const code = `
struct U { rows: u32, cols: u32, eps: f32, p0: u32, o: array<vec4<u32>, 2> };
${decl.join("\n")}
@group(0) @binding(${n}) var<uniform> u: U;
@compute @workgroup_size(${LANE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let first = ((wid.x + wid.y * 65535u) * ${LANE_WG}u + lid) * ${P}u;
  if (first >= u.rows) { return; }
  let nv = u.cols / ${W}u;
  ${each((j) => `let row${j} = min(first + ${j}u, u.rows - 1u);\n  let b${j} = row${j} * nv;`)}
  ${offs}
  ${body}
}
`;
  const outs = fwd ? 3 : 1;
  return {
    label: `layer_norm[${spec.pass}${aff ? ",affine" : ""},lane${v4 ? ",vec4" : ""},rows${P}]`,
    code,
    bindings: [
      ...Array.from({ length: n }, (_, i) => i < outs ? "write" as const : "read" as const),
      "uniform",
    ],
    workgroupSize: [LANE_WG, 1, 1],
  };
}
