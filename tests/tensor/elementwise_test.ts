import { assertAllClose } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { erf, map } from "../reference/ndarray.ts";
import { checkOp, initGpu } from "./_util.ts";

await initGpu();

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const binaryCases: [
  string,
  (a: T.Tensor, b: T.Tensor) => T.Tensor,
  (a: number, b: number) => number,
][] = [
  ["add", T.add, (a, b) => a + b],
  ["sub", T.sub, (a, b) => a - b],
  ["mul", T.mul, (a, b) => a * b],
  ["div", T.div, (a, b) => a / b],
  ["maximum", T.maximum, Math.max],
  ["minimum", T.minimum, Math.min],
];

Deno.test("binary ops forward and backward match float64 reference with broadcasting", async () => {
  for (const [name, f, r] of binaryCases) {
    await checkOp({
      name,
      shapes: [[3, 1, 5], [4, 1]],
      gpu: ([a, b]) => f(a, name === "div" ? T.add(T.abs(b), 0.5) : b),
      ref: ([a, b]) => map((x, y) => r(x, name === "div" ? Math.abs(y) + 0.5 : y), a, b),
    });
  }
});

Deno.test("pow() handles negative bases with integer exponents and scalar operands", async () => {
  await checkOp({
    name: "pow_int",
    shapes: [[7]],
    gpu: ([a]) => T.pow(a, 3),
    ref: ([a]) => map((x) => x ** 3, a),
  });
  await checkOp({
    name: "pow_tensor",
    shapes: [[2, 3], [3]],
    range: [0.5, 2],
    gpu: ([a, b]) => T.pow(a, b),
    ref: ([a, b]) => map((x, y) => x ** y, a, b),
  });
  await checkOp({
    name: "rsub_scalar",
    shapes: [[5]],
    gpu: ([a]) => T.sub(2, a),
    ref: ([a]) => map((x) => 2 - x, a),
  });
});

const unaryCases: [string, (a: T.Tensor) => T.Tensor, (a: number) => number, [number, number]?][] =
  [
    ["neg", T.neg, (x) => -x],
    ["abs", T.abs, Math.abs],
    ["sqrt", T.sqrt, Math.sqrt, [0.2, 2]],
    ["rsqrt", T.rsqrt, (x) => 1 / Math.sqrt(x), [0.2, 2]],
    ["exp", T.exp, Math.exp],
    ["log", T.log, Math.log, [0.2, 2]],
    ["square", T.square, (x) => x * x],
    ["relu", T.relu, (x) => Math.max(x, 0)],
    ["gelu", T.gelu, (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), [-3, 3]],
    [
      "geluTanh",
      T.geluTanh,
      (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
      [-3, 3],
    ],
    ["sigmoid", T.sigmoid, sig, [-4, 4]],
    ["tanh", T.tanh, Math.tanh, [-3, 3]],
    ["softplus", T.softplus, (x) => x > 20 ? x : Math.log1p(Math.exp(x)), [-4, 4]],
    ["sin", T.sin, Math.sin],
  ];

Deno.test("unary ops forward and backward match float64 reference", async () => {
  for (const [name, f, r, range] of unaryCases) {
    await checkOp({
      name,
      shapes: [[3, 7]],
      range,
      gpu: ([a]) => f(a),
      ref: ([a]) => map(r, a),
      atol: 2e-6,
      rtol: 2e-5,
      gradAtol: 2e-4,
      gradRtol: 2e-3,
    });
  }
});

Deno.test("clamp(), where() and maskedFill() route gradients like PyTorch", async () => {
  await checkOp({
    name: "clamp",
    shapes: [[11]],
    gpu: ([a]) => T.clamp(a, { min: -0.5, max: 0.3 }),
    ref: ([a]) => map((x) => Math.min(Math.max(x, -0.5), 0.3), a),
  });
  await checkOp({
    name: "where",
    shapes: [[2, 5], [2, 5], [5]],
    gpu: ([c, a, b]) => T.where(T.gt(c, 0), a, b),
    ref: ([c, a, b]) => map((cc, x, y) => cc > 0 ? x : y, c, a, b),
    noGrad: [0],
  });
  const x = T.tensor([1, 2, 3, 4], [4]);
  const m = T.tensor([1, 0, 0, 1], [4], { dtype: "u32" });
  assertAllClose(await T.maskedFill(x, m, -9).toArray(), [-9, 2, 3, -9]);
  assertAllClose(await T.where(m, 1.5, -0.5).toArray(), [1.5, -0.5, -0.5, 1.5]);
});

Deno.test("comparisons return f32 or u32 masks", async () => {
  const a = T.tensor([1, 2, 3], [3]);
  const b = T.tensor([2, 2, 2], [3]);
  assertAllClose(await T.lt(a, b).toArray(), [1, 0, 0]);
  assertAllClose(await T.ge(a, b, { dtype: "u32" }).toArray(), [0, 1, 1]);
  assertAllClose(await T.eq(a, 2).toArray(), [0, 1, 0]);
});
