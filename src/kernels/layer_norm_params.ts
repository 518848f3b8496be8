import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";
import { LANE_WG } from "./reduce_form.ts";

/**
 * Uniforms of `layerNormParamGradKernel`: rows, cols, runs, then the element offsets of dw, db
 * (partial results), g, x, mean, rstd in what is bound (split launches bind windows).
 */
export function layerNormParamGradUniforms(
  rows: number,
  cols: number,
  runs: number,
  offsets: readonly number[],
): ArrayBuffer {
  const u = new Uint32Array(12);
  u.set([rows, cols, 0, runs]);
  u.set(offsets, 4);
  return u.buffer;
}

/**
 * Weight and bias gradients of the last-dim layer norm in one pass (CPU-adapter lane form): the
 * rows are cut into `runs` runs; each invocation owns one run and four neighbouring columns
 * (`vec4`; one column otherwise), loads g and x once per row and accumulates
 * dw += g (x - mean) rstd and db += g in registers, then writes its partial results to
 * dw/db [runs, cols] (the caller sums them over runs). No workgroup memory; neighbouring lanes
 * read neighbouring columns. Bindings: dw, db (write), g, x, mean, rstd, uniforms. Grid:
 * `laneWorkgroups(runs * cols / (vec4 ? 4 : 1))`. Rows per run must stay below llvmpipe's loop
 * cap (65,535).
 */
export function layerNormParamGradKernel(vec4: boolean, group = 1): KernelSource {
  return memoKernel(`layerNormParamGradKernel:${vec4}:${group}`, () => build(vec4, group));
}

function build(v4: boolean, k: number): KernelSource {
  const V = v4 ? "vec4<f32>" : "f32";
  const d = v4 ? " / 4u" : "";
  const ks = Array.from({ length: k }, (_, j) => j);
  const each = (f: (j: number) => string, sep = "\n    ") => ks.map(f).join(sep);
  const code = `
struct U { rows: u32, cols: u32, p0: u32, runs: u32, o: array<vec4<u32>, 2> };
@group(0) @binding(0) var<storage, read_write> dw: array<${V}>;
@group(0) @binding(1) var<storage, read_write> db: array<${V}>;
@group(0) @binding(2) var<storage, read> g: array<${V}>;
@group(0) @binding(3) var<storage, read> x: array<${V}>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
@compute @workgroup_size(${LANE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let item = (wid.x + wid.y * 65535u) * ${LANE_WG}u + lid;
  let nv = u.cols${d};
  let ng = nv / ${k}u;
  if (item >= u.runs * ng) { return; }
  let c = (item % ng) * ${k}u;
  let len = (u.rows + u.runs - 1u) / u.runs;
  let lo = min((item / ng) * len, u.rows);
  let hi = min(lo + len, u.rows);
  let oG = u.o[0][2]${d} + c;
  let oX = u.o[0][3]${d} + c;
  ${each((j) => `var sw${j} = ${V}(0.0);\n  var sb${j} = ${V}(0.0);`, "\n  ")}
  for (var r = lo; r < hi; r++) {
    let m = mean[u.o[1][0] + r];
    let s = rstd[u.o[1][1] + r];
    let b = r * nv;
    ${
    each((j) =>
      `let g${j} = g[oG + b + ${j}u];\n    sw${j} += g${j} * ((x[oX + b + ${j}u] - m) * s);\n    sb${j} += g${j};`
    )
  }
  }
  let o = (item / ng) * nv + c;
  ${
    each(
      (j) => `dw[u.o[0][0]${d} + o + ${j}u] = sw${j};\n  db[u.o[0][1]${d} + o + ${j}u] = sb${j};`,
      "\n  ",
    )
  }
}
`;
  return {
    label: `layer_norm_param_grad[lane${v4 ? ",vec4" : ""},${k}]`,
    code,
    bindings: ["write", "write", "read", "read", "read", "read", "uniform"],
    workgroupSize: [LANE_WG, 1, 1],
  };
}
