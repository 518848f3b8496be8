/**
 * softmax / logSoftmax (last dim) forward and backward against a float64 reference, in both
 * kernel forms (the GPU's workgroup form and the CPU adapter's lane form, forced): cols 1, odd
 * cols (scalar lane kernel), multiples of 4 (vec4), rows not a multiple of the workgroup, large
 * logits, rows with some -inf (exp gives 0) and rows of only -inf (NaN, like PyTorch), an offset
 * view, and split launches under a pretend binding limit.
 *
 * Tolerances: probabilities 1e-6 + 1e-5 relative; log-probabilities 2e-5 (|x| up to ~40);
 * gradients 1e-5.
 */
import { assertAllClose } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { initGpu, randomArray } from "../tensor/_util.ts";
import { assertSplitEqual } from "../tensor/_split.ts";
import { FORMS, withForm } from "./_rows.ts";

await initGpu();

type Kind = "softmax" | "logSoftmax";

/** float64 softmax or log-softmax over rows of `cols`, and dx for the output gradient g. */
function ref(kind: Kind, x: Float32Array, g: Float32Array, cols: number) {
  const y = new Float64Array(x.length), dx = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += cols) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[o + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[o + c] - m);
    let gy = 0, gs = 0;
    for (let c = 0; c < cols; c++) {
      y[o + c] = kind === "softmax" ? Math.exp(x[o + c] - m) / s : x[o + c] - m - Math.log(s);
      gy += g[o + c] * y[o + c];
      gs += g[o + c];
    }
    for (let c = 0; c < cols; c++) {
      dx[o + c] = kind === "softmax"
        ? y[o + c] * (g[o + c] - gy)
        : g[o + c] - Math.exp(y[o + c]) * gs;
    }
  }
  return { y, dx };
}

async function run(kind: Kind, x: Float32Array, g: Float32Array, shape: number[], lead = 0) {
  const r = T.tidy(() => {
    const n = x.length;
    // `lead` extra elements in front: the op reads a view at an offset.
    const whole = T.tensor(Float32Array.from([...new Float32Array(lead), ...x]), [lead + n], {
      requiresGrad: true,
    });
    const xv = T.reshape(T.slice(whole, 0, lead, lead + n), shape);
    const y = kind === "softmax" ? T.softmax(xv) : T.logSoftmax(xv);
    y.backward({ grad: T.tensor(g, shape) });
    return [y, T.slice(whole.grad!, 0, lead, lead + n)];
  });
  const out = [];
  for (const t of r) {
    out.push(await t.toArray());
    t.dispose();
  }
  return out;
}

const SHAPES = [[5, 1], [13, 3], [9, 7], [2, 3, 64], [17, 4], [11, 150], [3, 1028]];

for (const form of FORMS) {
  for (const kind of ["softmax", "logSoftmax"] as const) {
    Deno.test(`${kind}() ${form} form: forward and backward match the float64 reference`, async () => {
      const tolY = kind === "softmax" ? { atol: 1e-6, rtol: 1e-5 } : { atol: 2e-5, rtol: 1e-6 };
      for (const [k, shape] of SHAPES.entries()) {
        const cols = shape[shape.length - 1];
        const n = shape.reduce((a, d) => a * d, 1);
        const x = randomArray(n, 30 + k, -20, 20);
        // Some -inf entries (row 1: all of them; row 2: every third) when there are rows 1, 2.
        if (n / cols > 2) {
          for (let c = 0; c < cols; c++) x[cols + c] = -Infinity;
          for (let c = 0; c < cols; c += 3) x[2 * cols + c] = -Infinity;
        }
        const g = randomArray(n, 50 + k);
        const want = ref(kind, x, g, cols);
        for (const lead of [0, 1]) {
          const got = await withForm(form, () => run(kind, x, g, shape, lead));
          const msg = `[${shape}] ${form} offset ${lead}`;
          assertAllClose(got[0], want.y, { ...tolY, msg: `${msg} y` });
          assertAllClose(got[1], want.dx, { atol: 1e-5, rtol: 1e-5, msg: `${msg} dx` });
        }
      }
    });
  }

  Deno.test(`softmax() ${form} form: split launches equal the unsplit one`, async () => {
    await withForm(form, async () => {
      for (const cols of [152, 37]) {
        await assertSplitEqual(`[130, ${cols}] ${form}`, 16 * 1024, () => {
          const z = T.tensor(randomArray(130 * cols, 3, -5, 5), [130, cols], {
            requiresGrad: true,
          });
          const s = T.softmax(z), ls = T.logSoftmax(z);
          T.add(T.sum(T.mul(s, z)), T.sum(T.mul(ls, 0.5))).backward();
          return [s, ls, z.grad!];
        });
      }
    });
  });
}

Deno.test("softmax() lane form: more rows than one dispatch dimension holds", async () => {
  // 65535 workgroups of 8 rows = 524,280 rows in one grid row; 524,290 rows use a second one.
  const rows = 524_290, cols = 2;
  const x = randomArray(rows * cols, 11, -3, 3), g = randomArray(rows * cols, 12);
  const want = ref("softmax", x, g, cols);
  const got = await withForm("lane", () => run("softmax", x, g, [rows, cols]));
  assertAllClose(got[0], want.y, { atol: 1e-6, rtol: 1e-5, msg: "y" });
  assertAllClose(got[1], want.dx, { atol: 1e-5, rtol: 1e-5, msg: "dx" });
});
