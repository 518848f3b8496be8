import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";
import { LANE_WG } from "./reduce_form.ts";

/**
 * LayerNorm2d kernels in the CPU-adapter lane form (see `ReduceForm`): 8-invocation workgroups,
 * no workgroup memory, every load a vec4 of four neighbouring pixels (H*W and the x / g offsets
 * must be multiples of 4). Uniforms as `norm2dUniforms`, plus the number of runs at index 7 for
 * the parameter gradients (`norm2dLaneUniforms`).
 *
 * - forward: one invocation per four pixels, walking the channels (stride H*W) once for the
 *   sum and sum of squares of x - x[channel 0] (shifted: the biased variance does not cancel
 *   when |mean| >> std), once to write y; writes mean and rstd. Grid `laneWorkgroups(N*H*W/4)`.
 * - input grad: the same walk for sum(g w) and sum(g w (x - mean)), then writes gx.
 * - param grad: one invocation per (channel, run of pixels): partial sums of g (x - mean) rstd
 *   and g into [C, runs] arrays that the caller sums over runs. Grid `laneWorkgroups(C * runs)`.
 */
export type Norm2dLanePass = "forward" | "inputGrad" | "paramGrad";

/** Uniforms of the lane kernels: `norm2dUniforms`' fields, runs at index 7. */
export function norm2dLaneUniforms(
  n: number,
  c: number,
  hw: number,
  eps: number,
  { xOff = 0, gOff = 0, runs = 1 }: { xOff?: number; gOff?: number; runs?: number } = {},
): ArrayBuffer {
  const buf = new ArrayBuffer(32);
  new Uint32Array(buf).set([n, c, hw, xOff, gOff, 0, 0, runs]);
  new Float32Array(buf)[5] = eps;
  return buf;
}

const HEAD = `struct U {
  N: u32, C: u32, HW: u32, xOff: u32,
  gOff: u32, eps: f32, p0: u32, runs: u32,
};`;

const MAIN = `@compute @workgroup_size(${LANE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let item = (wid.x + wid.y * 65535u) * ${LANE_WG}u + lid;`;

/** A LayerNorm2d lane-form kernel (see `Norm2dLanePass` for bindings' meaning). */
export function norm2dLaneKernel(pass: Norm2dLanePass): KernelSource {
  return memoKernel(`norm2dLaneKernel:${pass}`, () => build(pass));
}

function build(pass: Norm2dLanePass): KernelSource {
  const V = "vec4<f32>";
  const pixel = `
  let hw4 = u.HW / 4u;
  if (item >= u.N * hw4) { return; }
  let base = (item / hw4) * u.C * hw4 + item % hw4;
  let xo = u.xOff / 4u + base;`;
  let code: string;
  let bindings: ("read" | "write" | "uniform")[];
  if (pass === "forward") {
    // Bindings: y, mean, rstd (write), x, weight, bias.
    code = `${HEAD}
@group(0) @binding(0) var<storage, read_write> y: array<${V}>;
@group(0) @binding(1) var<storage, read_write> mean: array<${V}>;
@group(0) @binding(2) var<storage, read_write> rstd: array<${V}>;
@group(0) @binding(3) var<storage, read> x: array<${V}>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> b: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
${MAIN}${pixel}
  let k = x[xo];
  var s = ${V}(0.0);
  var q = ${V}(0.0);
  for (var c = 0u; c < u.C; c++) {
    let d = x[xo + c * hw4] - k;
    s += d;
    q += d * d;
  }
  let cf = f32(u.C);
  let dm = s / cf;
  let mu = k + dm;
  let r = inverseSqrt(max(q / cf - dm * dm, ${V}(0.0)) + u.eps);
  for (var c = 0u; c < u.C; c++) {
    y[base + c * hw4] = (x[xo + c * hw4] - mu) * r * w[c] + b[c];
  }
  mean[item] = mu;
  rstd[item] = r;
}
`;
    bindings = ["write", "write", "write", "read", "read", "read", "uniform"];
  } else if (pass === "inputGrad") {
    // Bindings: gx (write), g, x, mean, rstd, weight.
    code = `${HEAD}
@group(0) @binding(0) var<storage, read_write> gx: array<${V}>;
@group(0) @binding(1) var<storage, read> g: array<${V}>;
@group(0) @binding(2) var<storage, read> x: array<${V}>;
@group(0) @binding(3) var<storage, read> mean: array<${V}>;
@group(0) @binding(4) var<storage, read> rstd: array<${V}>;
@group(0) @binding(5) var<storage, read> w: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
${MAIN}${pixel}
  let go = u.gOff / 4u + base;
  let m = mean[item];
  let r = rstd[item];
  var s1 = ${V}(0.0);
  var s2 = ${V}(0.0);
  for (var c = 0u; c < u.C; c++) {
    let gh = g[go + c * hw4] * w[c];
    s1 += gh;
    s2 += gh * (x[xo + c * hw4] - m);
  }
  let cf = f32(u.C);
  let m1 = s1 / cf;
  let m2 = s2 * r * r / cf;
  for (var c = 0u; c < u.C; c++) {
    let gh = g[go + c * hw4] * w[c];
    gx[base + c * hw4] = r * (gh - m1) - (x[xo + c * hw4] - m) * (r * m2);
  }
}
`;
    bindings = ["write", "read", "read", "read", "read", "read", "uniform"];
  } else {
    // Bindings: pw, pb (write [C, runs]), g, x, mean, rstd.
    code = `${HEAD}
@group(0) @binding(0) var<storage, read_write> pw: array<f32>;
@group(0) @binding(1) var<storage, read_write> pb: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<${V}>;
@group(0) @binding(3) var<storage, read> x: array<${V}>;
@group(0) @binding(4) var<storage, read> mean: array<${V}>;
@group(0) @binding(5) var<storage, read> rstd: array<${V}>;
@group(0) @binding(6) var<uniform> u: U;
${MAIN}
  if (item >= u.C * u.runs) { return; }
  let c = item / u.runs;
  let hw4 = u.HW / 4u;
  let total = u.N * hw4;
  let len = (total + u.runs - 1u) / u.runs;
  let lo = min((item % u.runs) * len, total);
  let hi = min(lo + len, total);
  var sw = ${V}(0.0);
  var sb = ${V}(0.0);
  for (var j = lo; j < hi; j++) {
    let k = ((j / hw4) * u.C + c) * hw4 + j % hw4;
    let gv = g[u.gOff / 4u + k];
    sw += gv * (x[u.xOff / 4u + k] - mean[j]) * rstd[j];
    sb += gv;
  }
  pw[item] = dot(sw, ${V}(1.0));
  pb[item] = dot(sb, ${V}(1.0));
}
`;
    bindings = ["write", "write", "read", "read", "read", "read", "uniform"];
  }
  return {
    label: `layer_norm2d[${pass},lane,vec4]`,
    code,
    bindings,
    workgroupSize: [LANE_WG, 1, 1],
  };
}
