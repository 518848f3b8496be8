/**
 * The float64 references of the spatial ops (conv, conv_transpose, max_pool, interpolate,
 * LayerNorm2d) reproduce PyTorch's own float64 results in the torch-ops fixtures. Both sides are
 * float64, so only summation order differs: tolerance 1e-10.
 */
import { assertAllClose, assertEquals } from "../assert.ts";
import {
  type FixtureTensor,
  loadTorchOps,
  randomArray,
  tensorOf,
} from "../kernels/_spatial_fixtures.ts";
import {
  conv2dBackwardRef,
  conv2dRef,
  convTranspose2dBackwardRef,
  convTranspose2dRef,
  type RefTensor,
} from "./conv.ts";
import { maxPool2dBackwardRef, maxPool2dRef } from "./pool.ts";
import { interpolateBackwardRef, interpolateRef, type InterpRefOptions } from "./interpolate.ts";
import { layerNorm2dBackwardRef, layerNorm2dRef } from "./norm2d.ts";

const TOL = { atol: 1e-10, rtol: 1e-10 };
const rt = (t: FixtureTensor): RefTensor => ({ data: t.data, shape: t.shape });

const CONV: Record<string, [number, number, number, number]> = {
  // stride, padding, dilation, groups
  k3_s1_p1: [1, 1, 1, 1],
  k7_s4_p3_patch_embed: [4, 3, 1, 1],
  dw_k7_p3: [1, 3, 1, 6],
  k3_s2_p1: [2, 1, 1, 1],
  k1: [1, 0, 1, 1],
  k3_d2_p2: [1, 2, 2, 1],
};

Deno.test("conv2dRef() matches PyTorch float64 forward and grads on every fixture variant", () => {
  const f = loadTorchOps("conv2d");
  for (const [v, [s, p, d, groups]] of Object.entries(CONV)) {
    const x = rt(tensorOf(f, `${v}/in.x`)), w = rt(tensorOf(f, `${v}/in.weight`));
    const b = tensorOf(f, `${v}/in.bias`).data;
    const geo = {
      stride: [s, s] as [number, number],
      padding: [p, p] as [number, number],
      dilation: [d, d] as [number, number],
      groups,
    };
    const out = conv2dRef(x, w, b, geo);
    assertEquals(out.shape, tensorOf(f, `${v}/out_f64`).shape, v);
    assertAllClose(out.data, tensorOf(f, `${v}/out_f64`).data, { ...TOL, msg: `${v} out` });
    const gr = conv2dBackwardRef(x, w, rt(tensorOf(f, `${v}/gout`)), geo);
    assertAllClose(gr.gx.data, tensorOf(f, `${v}/grad.x_f64`).data, { ...TOL, msg: `${v} gx` });
    assertAllClose(gr.gw.data, tensorOf(f, `${v}/grad.weight_f64`).data, {
      ...TOL,
      msg: `${v} gw`,
    });
    assertAllClose(gr.gb, tensorOf(f, `${v}/grad.bias_f64`).data, { ...TOL, msg: `${v} gb` });
  }
});

Deno.test("convTranspose2dRef() matches PyTorch float64 forward and grads", () => {
  const f = loadTorchOps("conv_transpose2d");
  const cases: Record<string, [number, number, number]> = {
    k2_s2: [2, 0, 0],
    k3_s2_p1_op1: [2, 1, 1],
  };
  for (const [v, [s, p, op]] of Object.entries(cases)) {
    const x = rt(tensorOf(f, `${v}/in.x`)), w = rt(tensorOf(f, `${v}/in.weight`));
    const b = tensorOf(f, `${v}/in.bias`).data;
    const geo = {
      stride: [s, s] as [number, number],
      padding: [p, p] as [number, number],
      dilation: [1, 1] as [number, number],
      outputPadding: [op, op] as [number, number],
      groups: 1,
    };
    const out = convTranspose2dRef(x, w, b, geo);
    assertEquals(out.shape, tensorOf(f, `${v}/out_f64`).shape, v);
    assertAllClose(out.data, tensorOf(f, `${v}/out_f64`).data, { ...TOL, msg: `${v} out` });
    const gr = convTranspose2dBackwardRef(x, w, rt(tensorOf(f, `${v}/gout`)), geo);
    assertAllClose(gr.gx.data, tensorOf(f, `${v}/grad.x_f64`).data, { ...TOL, msg: `${v} gx` });
    assertAllClose(gr.gw.data, tensorOf(f, `${v}/grad.weight_f64`).data, {
      ...TOL,
      msg: `${v} gw`,
    });
    assertAllClose(gr.gb, tensorOf(f, `${v}/grad.bias_f64`).data, { ...TOL, msg: `${v} gb` });
  }
});

Deno.test("maxPool2dRef() matches PyTorch values, indices (first-max ties) and grads", () => {
  const f = loadTorchOps("max_pool2d_2x2");
  for (const v of ["odd_2x3x9x7", "even_1x4x8x8", "ties_1x2x6x6"]) {
    const x = rt(tensorOf(f, `${v}/in.x`));
    const { out, indices } = maxPool2dRef(x, {
      kernel: [2, 2],
      stride: [2, 2],
      padding: [0, 0],
      dilation: [1, 1],
      ceilMode: false,
    });
    assertEquals(out.shape, tensorOf(f, `${v}/out_f64`).shape, v);
    assertAllClose(out.data, tensorOf(f, `${v}/out_f64`).data, { ...TOL, msg: `${v} out` });
    assertEquals([...indices], [...tensorOf(f, `${v}/out.indices`).data], `${v} indices`);
    const gx = maxPool2dBackwardRef(x.shape, indices, rt(tensorOf(f, `${v}/gout`)));
    assertAllClose(gx.data, tensorOf(f, `${v}/grad.x_f64`).data, { ...TOL, msg: `${v} gx` });
  }
});

const INTERP: [string, string, Omit<InterpRefOptions, "size">][] = [
  ["interpolate_bilinear_ac_false", "up_12x17", { mode: "bilinear", alignCorners: false }],
  ["interpolate_bilinear_ac_false", "down_4x5", { mode: "bilinear", alignCorners: false }],
  ["interpolate_bilinear_ac_true", "up_12x17", { mode: "bilinear", alignCorners: true }],
  ["interpolate_bilinear_ac_true", "down_4x5", { mode: "bilinear", alignCorners: true }],
  ["interpolate_bilinear_antialias_down", "down_9x13", { mode: "bilinear", antialias: true }],
  ["interpolate_bicubic_ac_false", "up_32x32", { mode: "bicubic", alignCorners: false }],
  ["interpolate_bicubic_ac_false", "down_5x6", { mode: "bicubic", alignCorners: false }],
  ["interpolate_nearest", "up_10x14", { mode: "nearest" }],
  ["interpolate_nearest", "down_3x4", { mode: "nearest" }],
];

Deno.test("interpolateRef() matches PyTorch float64 for every mode, up and down", () => {
  for (const [file, v, opts] of INTERP) {
    const f = loadTorchOps(file);
    const x = rt(tensorOf(f, `${v}/in.x`));
    const want = tensorOf(f, `${v}/out_f64`);
    const o = { ...opts, size: [want.shape[2], want.shape[3]] as [number, number] };
    const out = interpolateRef(x, o);
    assertEquals(out.shape, want.shape, `${file}/${v}`);
    assertAllClose(out.data, want.data, { ...TOL, msg: `${file}/${v} out` });
    const gx = interpolateBackwardRef(x.shape, rt(tensorOf(f, `${v}/gout`)), o);
    assertAllClose(gx.data, tensorOf(f, `${v}/grad.x_f64`).data, {
      ...TOL,
      msg: `${file}/${v} gx`,
    });
  }
});

Deno.test("layerNorm2dRef() matches SAM 2's LayerNorm2d in float64, forward and grads", () => {
  const f = loadTorchOps("layernorm2d"), v = "c7_eps1e-6";
  const x = rt(tensorOf(f, `${v}/in.x`));
  const w = tensorOf(f, `${v}/in.weight`).data, b = tensorOf(f, `${v}/in.bias`).data;
  const out = layerNorm2dRef(x, w, b, 1e-6);
  assertAllClose(out.data, tensorOf(f, `${v}/out_f64`).data, { ...TOL, msg: "out" });
  const gr = layerNorm2dBackwardRef(x, w, rt(tensorOf(f, `${v}/gout`)), 1e-6);
  assertAllClose(gr.gx.data, tensorOf(f, `${v}/grad.x_f64`).data, { ...TOL, msg: "gx" });
  assertAllClose(gr.gw, tensorOf(f, `${v}/grad.weight_f64`).data, { ...TOL, msg: "gw" });
  assertAllClose(gr.gb, tensorOf(f, `${v}/grad.bias_f64`).data, { ...TOL, msg: "gb" });
});

/** Central finite difference of sum(f(x) * gout) along every input element. */
function numericGrad(
  x: Float64Array,
  f: () => Float64Array,
  gout: Float64Array,
  h = 1e-6,
): Float64Array {
  const g = new Float64Array(x.length);
  const dot = (a: Float64Array) => a.reduce((s, v, i) => s + v * gout[i], 0);
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + h;
    const up = dot(f());
    x[i] = old - h;
    const down = dot(f());
    x[i] = old;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

const FD = { atol: 1e-6, rtol: 1e-6 };

Deno.test("conv2dBackwardRef() agrees with finite differences (groups 2, stride 2, dilation 2)", () => {
  const x = { data: randomArray(1 * 4 * 7 * 6, 1), shape: [1, 4, 7, 6] };
  const w = { data: randomArray(6 * 2 * 3 * 2, 2), shape: [6, 2, 3, 2] };
  const geo = {
    stride: [2, 1] as [number, number],
    padding: [2, 1] as [number, number],
    dilation: [2, 1] as [number, number],
    groups: 2,
  };
  const out = conv2dRef(x, w, null, geo);
  const gout = randomArray(out.data.length, 3);
  const gr = conv2dBackwardRef(x, w, { data: gout, shape: out.shape }, geo);
  const fwd = () => conv2dRef(x, w, null, geo).data;
  assertAllClose(gr.gx.data, numericGrad(x.data, fwd, gout), { ...FD, msg: "gx" });
  assertAllClose(gr.gw.data, numericGrad(w.data, fwd, gout), { ...FD, msg: "gw" });
});

Deno.test("convTranspose2dBackwardRef() agrees with finite differences (groups 2, k3 s2)", () => {
  const x = { data: randomArray(1 * 4 * 3 * 4, 4), shape: [1, 4, 3, 4] };
  const w = { data: randomArray(4 * 3 * 3 * 3, 5), shape: [4, 3, 3, 3] };
  const geo = {
    stride: [2, 2] as [number, number],
    padding: [1, 0] as [number, number],
    dilation: [1, 2] as [number, number],
    outputPadding: [1, 0] as [number, number],
    groups: 2,
  };
  const out = convTranspose2dRef(x, w, null, geo);
  const gout = randomArray(out.data.length, 6);
  const gr = convTranspose2dBackwardRef(x, w, { data: gout, shape: out.shape }, geo);
  const fwd = () => convTranspose2dRef(x, w, null, geo).data;
  assertAllClose(gr.gx.data, numericGrad(x.data, fwd, gout), { ...FD, msg: "gx" });
  assertAllClose(gr.gw.data, numericGrad(w.data, fwd, gout), { ...FD, msg: "gw" });
});

Deno.test("interpolateBackwardRef() agrees with finite differences for bicubic and antialias", () => {
  const x = { data: randomArray(2 * 5 * 6, 7), shape: [1, 2, 5, 6] };
  for (
    const o of [
      { mode: "bicubic", size: [8, 4] },
      { mode: "bilinear", size: [3, 2], antialias: true },
      { mode: "bilinear", size: [7, 9], alignCorners: true },
    ] as InterpRefOptions[]
  ) {
    const gout = randomArray(2 * o.size[0] * o.size[1], 8);
    const gx = interpolateBackwardRef(x.shape, { data: gout, shape: [1, 2, ...o.size] }, o);
    const fd = numericGrad(x.data, () => interpolateRef(x, o).data, gout);
    assertAllClose(gx.data, fd, { ...FD, msg: o.mode });
  }
});

Deno.test("layerNorm2dBackwardRef() agrees with finite differences", () => {
  const x = { data: randomArray(2 * 5 * 3 * 2, 9), shape: [2, 5, 3, 2] };
  const w = randomArray(5, 10), b = randomArray(5, 11);
  const gout = randomArray(x.data.length, 12);
  const gr = layerNorm2dBackwardRef(x, w, { data: gout, shape: x.shape }, 1e-6);
  const fd = numericGrad(x.data, () => layerNorm2dRef(x, w, b, 1e-6).data, gout);
  assertAllClose(gr.gx.data, fd, { ...FD, msg: "gx" });
  assertAllClose(gr.gw, numericGrad(w, () => layerNorm2dRef(x, w, b, 1e-6).data, gout), FD);
});
