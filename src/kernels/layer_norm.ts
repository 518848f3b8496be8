import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";

/** Spec of the fused last-dim LayerNorm kernels (f32, contiguous [rows, cols]). */
export interface LayerNormSpec {
  /** forward: y, mean, rstd from x (w, b); backward: dx from g, x, mean, rstd (w). */
  pass: "forward" | "backward";
  /** Whether there is a weight (and, forward, a bias). */
  affine: boolean;
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
