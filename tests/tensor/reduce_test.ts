import { assertAllClose, assertEquals } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { map, reduce } from "../reference/ndarray.ts";
import { checkOp, initGpu, randomArray } from "./_util.ts";
import { FORMS, withForm } from "../kernels/_rows.ts";

await initGpu();

const sumRef = (axes: number[]) => (x: Parameters<typeof reduce>[0]) =>
  reduce(x, axes, 0, (a, v) => a + v);
const squeezeShape = (shape: number[], axes: number[]) => shape.filter((_, i) => !axes.includes(i));

Deno.test("sum() and mean() over any axes match float64 reference (keepdim and not)", async () => {
  const shape = [3, 5, 1, 7];
  for (const axes of [[0], [1], [3], [0, 2], [1, 3], [0, 1, 2, 3]]) {
    for (const keepdim of [false, true]) {
      await checkOp({
        name: `sum${axes}${keepdim}`,
        shapes: [shape],
        gpu: ([x]) => T.sum(x, axes, { keepdim }),
        ref: ([x]) => {
          const r = sumRef(axes)(x);
          return keepdim ? r : { shape: squeezeShape(shape, axes), data: r.data };
        },
      });
    }
    await checkOp({
      name: `mean${axes}`,
      shapes: [shape],
      gpu: ([x]) => T.mean(x, axes),
      ref: ([x]) => {
        const r = sumRef(axes)(x);
        const n = axes.reduce((a, i) => a * shape[i], 1);
        return { shape: squeezeShape(shape, axes), data: r.data.map((v) => v / n) };
      },
    });
  }
});

Deno.test("sum() of a strided (permuted) view and a large reduction stay accurate", async () => {
  await checkOp({
    name: "sum_permuted",
    shapes: [[4, 6]],
    gpu: ([x]) => T.sum(T.transpose(x), [1]),
    ref: ([x]) => ({ shape: [6], data: sumRef([0])(x).data }),
  });
  const n = 200_003;
  const v = randomArray(n, 5);
  const s = await T.sum(T.tensor(v, [n])).item();
  const ref = v.reduce((a, b) => a + b, 0);
  assertAllClose([s], [ref], { atol: 2e-3, rtol: 1e-5 });
  // Long rows are reduced in chunks, then the partial results (two launches).
  const big = T.tensor(v, [1, n]);
  const vmax = v.reduce((a, b) => Math.max(a, b), -Infinity);
  assertAllClose([await T.max(big).item()], [vmax]);
  assertAllClose([await T.mean(big).item()], [ref / n], { atol: 1e-8, rtol: 1e-5 });
  assertAllClose(
    await T.sum(T.tensor(v.subarray(0, 3 * 20000), [3, 20000]), 1).toArray(),
    [0, 1, 2].map((r) => v.subarray(r * 20000, (r + 1) * 20000).reduce((a, b) => a + b, 0)),
    { atol: 2e-3, rtol: 1e-5 },
  );
  assertEquals(Array.from(await T.argmax(big, 1).toArray()), [v.indexOf(vmax)]);
});

Deno.test("max() and min() forward/backward, argmax() indices", async () => {
  await checkOp({
    name: "max1",
    shapes: [[4, 9]],
    gpu: ([x]) => T.max(x, 1),
    ref: ([x]) => ({ shape: [4], data: reduce(x, [1], -Infinity, Math.max).data }),
  });
  await checkOp({
    name: "min0",
    shapes: [[4, 9]],
    gpu: ([x]) => T.min(x, 0, { keepdim: true }),
    ref: ([x]) => reduce(x, [0], Infinity, Math.min),
  });
  const x = T.tensor([1, 5, 5, 2, -1, -3, -3, 0], [2, 4]);
  assertEquals(Array.from(await T.argmax(x, 1).toArray()), [1, 3]);
  assertEquals(Array.from(await T.argmin(x, 1).toArray()), [0, 1]);
  assertEquals(Array.from(await T.argmax(x).toArray()), [1]);
  // ties share the gradient
  const t = T.tensor([2, 2, 1], [3], { requiresGrad: true });
  T.max(t).backward();
  assertAllClose(await t.grad!.toArray(), [0.5, 0.5, 0]);
});

Deno.test("variance() matches float64 reference (unbiased and biased)", async () => {
  for (const correction of [1, 0]) {
    await checkOp({
      name: `var${correction}`,
      shapes: [[3, 8]],
      gpu: ([x]) => T.variance(x, 1, { correction }),
      ref: ([x]) => {
        const m = reduce(x, [1], 0, (a, v) => a + v).data.map((v) => v / 8);
        const d = map((v, mm) => (v - mm) ** 2, x, { shape: [3, 1], data: m });
        return {
          shape: [3],
          data: reduce(d, [1], 0, (a, v) => a + v).data.map((v) => v / (8 - correction)),
        };
      },
    });
  }
});

/** float64 reduction of x [A, R, B] over R: sum, max, min, argmax, argmin (first on ties). */
function reduceRef(op: string, x: ArrayLike<number>, [A, R, B]: number[]): number[] {
  const out: number[] = [];
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      let acc = op === "sum" ? 0 : op.endsWith("max") ? -Infinity : Infinity, at = 0;
      let nan = false;
      for (let r = 0; r < R; r++) {
        const v = x[(a * R + r) * B + b];
        if (Number.isNaN(v)) {
          if (!nan) [acc, at, nan] = [v, r, true];
          continue;
        }
        if (nan) continue;
        if (op === "sum") acc += v;
        else if (op.endsWith("max") ? v > acc : v < acc) [acc, at] = [v, r];
        else if (r === 0) at = 0;
      }
      out.push(op.startsWith("arg") ? at : acc);
    }
  }
  return out;
}

async function reduceBoth(
  form: "workgroup" | "lane",
  x: Float32Array | Int32Array,
  shape: number[],
  axis: number,
  opts: { dtype?: "f32" | "i32"; lead?: number } = {},
) {
  const lead = opts.lead ?? 0;
  const dtype = opts.dtype ?? "f32";
  return await withForm(form, async () => {
    const whole = T.tensor([...new Array(lead).fill(0), ...x], [lead + x.length], { dtype });
    const xv = T.reshape(T.slice(whole, 0, lead, lead + x.length), shape);
    const outs = [
      T.sum(xv, axis),
      T.max(xv, axis),
      T.min(xv, axis),
      T.argmax(xv, axis),
      T.argmin(xv, axis),
    ];
    const got = [];
    for (const t of outs) {
      got.push(Array.from(await t.toArray()));
      t.dispose();
    }
    whole.dispose();
    return got;
  });
}

const OPS = ["sum", "max", "min", "argmax", "argmin"];

for (const form of FORMS) {
  Deno.test(`sum/max/min/argmax/argmin ${form} form: last dim and inner axes match float64`, async () => {
    // [A, R, B] views: B 1 (row layout) and B > 1 (col layout), lengths multiple of 4 or not.
    const cases: [number[], number][] = [
      [[9, 1], 1],
      [[13, 7], 1],
      [[5, 64], 1],
      [[3, 2, 20], 2],
      [[6, 5, 4], 1],
      [[3, 7, 12], 1],
      [[2, 9, 3], 1],
      [[37, 8], 0],
    ];
    for (const [k, [shape, axis]] of cases.entries()) {
      const n = shape.reduce((a, d) => a * d, 1);
      // Values on a grid of 1/8 (ties for the arg ops, exact sums), a NaN and -inf in some.
      const x = randomArray(n, 90 + k).map((v) => Math.round(v * 16) / 8);
      if (k % 3 === 1) x[n >> 1] = -Infinity;
      const arb = [
        shape.slice(0, axis).reduce((a, d) => a * d, 1),
        shape[axis],
        shape.slice(axis + 1).reduce((a, d) => a * d, 1),
      ];
      for (const lead of [0, 1]) {
        const got = await reduceBoth(form, x, shape, axis, { lead });
        OPS.forEach((op, i) =>
          assertAllClose(got[i], reduceRef(op, x, arb), {
            atol: 1e-5,
            msg: `${op} [${shape}] axis ${axis} offset ${lead} ${form}`,
          })
        );
      }
      const xi = Int32Array.from(x, (v) => Number.isFinite(v) ? v * 8 : -1000);
      const gotI = await reduceBoth(form, xi, shape, axis, { dtype: "i32" });
      OPS.forEach((op, i) =>
        assertEquals(gotI[i], reduceRef(op, xi, arb), `i32 ${op} [${shape}] ${form}`)
      );
    }
  });

  Deno.test(`reductions ${form} form: NaN, -inf rows, ties, long rows and many rows`, async () => {
    // NaN: max/min propagate it, argmax/argmin point at the first NaN; all -inf: max -inf.
    const ninf = -Infinity;
    const x = Float32Array.from([
      ...[1, NaN, 3, NaN, 2, 0, 0, 0],
      ...[ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf],
      ...[5, 1, 5, 5, 0, 5, 1, 5],
      ...[0, 0, 0, 0, 0, 0, 0, NaN],
    ]);
    for (const axis of [1, 0]) {
      const shape = axis === 1 ? [4, 8] : [8, 4];
      const xs = axis === 1
        ? x
        : Float32Array.from({ length: 32 }, (_, i) => x[(i % 4) * 8 + (i >> 2)]);
      const arb = axis === 1 ? [4, 8, 1] : [1, 8, 4];
      const got = await reduceBoth(form, xs, shape, axis);
      OPS.forEach((op, i) =>
        assertAllClose(got[i], reduceRef(op, xs, arb), { msg: `${op} axis ${axis} ${form}` })
      );
    }
    // A long row (partial results per chunk), and more outputs than one dispatch row holds.
    const long = randomArray(3 * 40_000, 7);
    const gl = await reduceBoth(form, long, [3, 40_000], 1);
    OPS.forEach((op, i) =>
      assertAllClose(gl[i], reduceRef(op, long, [3, 40_000, 1]), {
        atol: 2e-3,
        rtol: 1e-5,
        msg: `long ${op} ${form}`,
      })
    );
    // Columns summed over runs of rows (partial results) in the lane form.
    for (const shape of [[1, 300, 8], [3, 20_000, 4], [1, 150, 32], [2, 70, 48], [3, 5, 64]]) {
      const xc = randomArray(shape[0] * shape[1] * shape[2], 9);
      const gc = await reduceBoth(form, xc, shape, 1);
      OPS.forEach((op, i) =>
        assertAllClose(gc[i], reduceRef(op, xc, shape), {
          atol: 2e-3,
          rtol: 1e-5,
          msg: `columns [${shape}] ${op} ${form}`,
        })
      );
    }
    const many = randomArray(524_290 * 2, 8);
    await withForm(form, async () => {
      const t = T.tensor(many, [524_290, 2]);
      const s = T.sum(t, 1), c = T.sum(t, 0);
      assertAllClose(await s.toArray(), reduceRef("sum", many, [524_290, 2, 1]), { atol: 1e-6 });
      assertAllClose(await c.toArray(), reduceRef("sum", many, [1, 524_290, 2]), {
        atol: 1e-2,
        rtol: 1e-5,
      });
      [t, s, c].forEach((v) => v.dispose());
    });
  });
}
