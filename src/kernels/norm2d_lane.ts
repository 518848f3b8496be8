import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";
import type { Norm2dOffsets } from "./norm2d.ts";
import { LANE_WG } from "./reduce_form.ts";

/**
 * LayerNorm2d kernels in the CPU-adapter lane form (see `ReduceForm`): 8-invocation workgroups,
 * no workgroup memory, every load a vec4 of four neighbouring pixels (H*W and the x / g offsets
 * must be multiples of 4). Uniforms as `norm2dUniforms`, plus the number of runs at index 7 for
 * the parameter gradients (`norm2dLaneUniforms`).
 *
 * - forward: one invocation per `px` vec4s of neighbouring pixels (named registers; H*W must be
 *   a multiple of 4 px), walking the channels (stride H*W) once for the sum and sum of squares
 *   of x - x[channel 0] (shifted: the biased variance does not cancel when |mean| >> std), once
 *   to write y; each weight/bias load serves all 4 px pixels. Writes mean and rstd. Grid
 *   `laneWorkgroups(N*H*W/(4 px))`.
 * - input grad: the same walk for sum(g w) and sum(g w (x - mean)), then writes gx.
 * - param grad: one invocation per (channel, run of pixels): partial sums of g (x - mean) rstd
 *   and g into [C, runs] arrays that the caller sums over runs. Grid `laneWorkgroups(C * runs)`.
 */
export type Norm2dLanePass = "forward" | "inputGrad" | "paramGrad";

/**
 * Uniforms of the lane kernels: `norm2dUniforms`' fields, runs at index 7, then the offsets of a
 * split launch's windows (`Norm2dOffsets`; yOff and mOff multiples of 4).
 */
export function norm2dLaneUniforms(
  n: number,
  c: number,
  hw: number,
  eps: number,
  { xOff = 0, gOff = 0, runs = 1, yOff = 0, mOff = 0, pOff = 0 }: {
    xOff?: number;
    gOff?: number;
  } & Norm2dOffsets = {},
): ArrayBuffer {
  const buf = new ArrayBuffer(48);
  new Uint32Array(buf).set([n, c, hw, xOff, gOff, 0, 0, runs, yOff, mOff, pOff]);
  new Float32Array(buf)[5] = eps;
  return buf;
}

const HEAD = `struct U {
  N: u32, C: u32, HW: u32, xOff: u32,
  gOff: u32, eps: f32, p0: u32, runs: u32,
  yOff: u32, mOff: u32, pOff: u32, p1: u32,
};`;

const MAIN = `@compute @workgroup_size(${LANE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let item = (wid.x + wid.y * 65535u) * ${LANE_WG}u + lid;`;

/**
 * A LayerNorm2d lane-form kernel (see `Norm2dLanePass`); `px` vec4s of pixels per invocation
 * for the forward and input gradient (1, 2 or 4; ignored by the parameter gradient).
 */
export function norm2dLaneKernel(pass: Norm2dLanePass, px = 1): KernelSource {
  return memoKernel(`norm2dLaneKernel:${pass}:${px}`, () => build(pass, px));
}

function build(pass: Norm2dLanePass, px: number): KernelSource {
  const V = "vec4<f32>";
  const js = Array.from({ length: px }, (_, j) => j);
  const each = (f: (j: number) => string, sep = "\n  ") => js.map(f).join(sep);
  const pixel = `
  let hw4 = u.HW / 4u;
  let hwp = hw4 / ${px}u;
  if (item >= u.N * hwp) { return; }
  let base = (item / hwp) * u.C * hw4 + (item % hwp) * ${px}u;
  let xo = u.xOff / 4u + base;
  let yo = u.yOff / 4u + base;
  let mo = u.mOff / 4u + item * ${px}u;`;
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
  ${each((j) => `let k${j} = x[xo + ${j}u];\n  var s${j} = ${V}(0.0);\n  var q${j} = ${V}(0.0);`)}
  for (var c = 0u; c < u.C; c++) {
    let o = xo + c * hw4;
    ${
      each(
        (j) =>
          `let d${j} = x[o + ${j}u] - k${j};\n    s${j} += d${j};\n    q${j} += d${j} * d${j};`,
        "\n    ",
      )
    }
  }
  let cf = f32(u.C);
  ${
      each((j) =>
        `let dm${j} = s${j} / cf;\n  let mu${j} = k${j} + dm${j};\n  ` +
        `let r${j} = inverseSqrt(max(q${j} / cf - dm${j} * dm${j}, ${V}(0.0)) + u.eps);`
      )
    }
  for (var c = 0u; c < u.C; c++) {
    let wc = w[c];
    let bc = b[c];
    let o = c * hw4;
    ${
      each(
        (j) => `y[yo + o + ${j}u] = (x[xo + o + ${j}u] - mu${j}) * (r${j} * wc) + bc;`,
        "\n    ",
      )
    }
  }
  ${each((j) => `mean[mo + ${j}u] = mu${j};\n  rstd[mo + ${j}u] = r${j};`)}
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
  ${
      each((j) =>
        `let m${j} = mean[mo + ${j}u];\n  let r${j} = rstd[mo + ${j}u];\n  ` +
        `var s1${j} = ${V}(0.0);\n  var s2${j} = ${V}(0.0);`
      )
    }
  for (var c = 0u; c < u.C; c++) {
    let wc = w[c];
    let o = c * hw4;
    ${
      each((j) =>
        `let gh${j} = g[go + o + ${j}u] * wc;\n    s1${j} += gh${j};\n    ` +
        `s2${j} += gh${j} * (x[xo + o + ${j}u] - m${j});`, "\n    ")
    }
  }
  let cf = f32(u.C);
  ${each((j) => `let m1${j} = s1${j} / cf;\n  let m2${j} = s2${j} * r${j} * r${j} / cf;`)}
  for (var c = 0u; c < u.C; c++) {
    let wc = w[c];
    let o = c * hw4;
    ${
      each((j) =>
        `gx[yo + o + ${j}u] = r${j} * (g[go + o + ${j}u] * wc - m1${j}) - ` +
        `(x[xo + o + ${j}u] - m${j}) * (r${j} * m2${j});`, "\n    ")
    }
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
    sw += gv * (x[u.xOff / 4u + k] - mean[u.mOff / 4u + j]) * rstd[u.mOff / 4u + j];
    sb += gv;
  }
  pw[u.pOff + item] = dot(sw, ${V}(1.0));
  pb[u.pOff + item] = dot(sb, ${V}(1.0));
}
`;
    bindings = ["write", "write", "read", "read", "read", "read", "uniform"];
  }
  return {
    label: `layer_norm2d[${pass},lane,vec4${pass === "paramGrad" ? "" : `,px${px}`}]`,
    code,
    bindings,
    workgroupSize: [LANE_WG, 1, 1],
  };
}
