/**
 * layerNorm (last dim) forward and backward against a float64 reference, in both kernel forms
 * (the GPU's workgroup form and the CPU adapter's lane form, forced), over shapes that hit every
 * path: cols 1, odd cols (scalar lane kernel), cols a multiple of 4 (vec4 lane kernel), rows not
 * a multiple of the workgroup, a large mean (shifted variance), and more rows than one dispatch
 * dimension holds.
 *
 * Tolerances: outputs are O(1) and f32 statistics over at most ~1000 columns: 2e-5 forward,
 * 5e-5 gradients (x, weight, bias).
 */
import { assertAllClose } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { initGpu, randomArray } from "../tensor/_util.ts";
import { FORMS, withForm } from "./_rows.ts";
import { assertSplitEqual } from "../tensor/_split.ts";

await initGpu();

interface Ref {
  y: Float64Array;
  dx: Float64Array;
  dw: Float64Array;
  db: Float64Array;
}

/** float64 layer norm over the last dim (biased variance, eps inside the sqrt) and its grads. */
function layerNormRef(
  x: Float32Array,
  w: Float32Array | null,
  b: Float32Array | null,
  g: Float32Array,
  cols: number,
  eps: number,
): Ref {
  const rows = x.length / cols;
  const y = new Float64Array(x.length), dx = new Float64Array(x.length);
  const dw = new Float64Array(cols), db = new Float64Array(cols);
  const xh = new Float64Array(cols), gw = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = 0;
    for (let c = 0; c < cols; c++) m += x[o + c];
    m /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[o + c] - m) ** 2;
    const rs = 1 / Math.sqrt(v / cols + eps);
    let m1 = 0, m2 = 0;
    for (let c = 0; c < cols; c++) {
      xh[c] = (x[o + c] - m) * rs;
      y[o + c] = xh[c] * (w ? w[c] : 1) + (b ? b[c] : 0);
      gw[c] = g[o + c] * (w ? w[c] : 1);
      m1 += gw[c] / cols;
      m2 += gw[c] * xh[c] / cols;
      dw[c] += g[o + c] * xh[c];
      db[c] += g[o + c];
    }
    for (let c = 0; c < cols; c++) dx[o + c] = rs * (gw[c] - m1 - xh[c] * m2);
  }
  return { y, dx, dw, db };
}

async function run(
  x: Float32Array,
  w: Float32Array | null,
  b: Float32Array | null,
  g: Float32Array,
  shape: number[],
  eps: number,
) {
  const cols = shape[shape.length - 1];
  const r = T.tidy(() => {
    const xt = T.tensor(x, shape, { requiresGrad: true });
    const wt = w && T.tensor(w, [cols], { requiresGrad: true });
    const bt = b && T.tensor(b, [cols], { requiresGrad: true });
    const y = T.layerNorm(xt, wt, bt, { eps });
    y.backward({ grad: T.tensor(g, shape) });
    return [y, xt.grad!, ...(wt ? [wt.grad!, bt!.grad!] : [])];
  });
  const out = [];
  for (const t of r) {
    out.push(await t.toArray());
    t.dispose();
  }
  return out;
}

const CASES: { shape: number[]; affine: boolean; shift?: number }[] = [
  { shape: [5, 1], affine: true },
  { shape: [13, 3], affine: true },
  { shape: [9, 7], affine: false },
  { shape: [2, 3, 33], affine: true },
  { shape: [17, 4], affine: true },
  { shape: [11, 256], affine: true },
  { shape: [7, 24], affine: true },
  { shape: [5, 48], affine: true },
  { shape: [3, 1028], affine: false },
  { shape: [21, 20], affine: true, shift: 1000 },
  { shape: [6, 19], affine: true, shift: -300 },
];

for (const form of FORMS) {
  Deno.test(`layerNorm() ${form} form: forward and gradients match the float64 reference`, async () => {
    for (const [k, { shape, affine, shift }] of CASES.entries()) {
      const cols = shape[shape.length - 1];
      const n = shape.reduce((a, d) => a * d, 1);
      const x = randomArray(n, 10 + k, -2, 3).map((v) => v + (shift ?? 0));
      const w = affine ? randomArray(cols, 40 + k, 0.5, 1.5) : null;
      const b = affine ? randomArray(cols, 60 + k) : null;
      const g = randomArray(n, 80 + k);
      const eps = 1e-5;
      const ref = layerNormRef(x, w, b, g, cols, eps);
      const got = await withForm(form, () => run(x, w, b, g, shape, eps));
      const msg = `[${shape}] ${form}`;
      // A mean of size s costs f32 about s * 2^-24 in every value (the input itself is rounded).
      const lost = Math.abs(shift ?? 0) * 2e-7;
      assertAllClose(got[0], ref.y, { atol: 2e-5 + lost, rtol: 1e-5, msg: `${msg} y` });
      const tol = { atol: 5e-5 + lost, rtol: 1e-4 };
      assertAllClose(got[1], ref.dx, { ...tol, msg: `${msg} dx` });
      if (affine) {
        assertAllClose(got[2], ref.dw, { ...tol, msg: `${msg} dw` });
        assertAllClose(got[3], ref.db, { ...tol, msg: `${msg} db` });
      }
    }
  });
}

Deno.test("layerNorm() lane form: more rows than one dispatch dimension holds", async () => {
  // 65535 workgroups of 8 rows = 524,280 rows in one grid row; 524,290 rows use a second one.
  const rows = 524_290, cols = 2;
  // The two values of a row at least 1 apart: rstd stays below 2 (well-conditioned gradients).
  const u = randomArray(rows * cols, 5), g = randomArray(rows * cols, 6);
  const x = u.map((v, i) => i % 2 ? u[i - 1] + 1.5 + 0.5 * v : v);
  const ref = layerNormRef(x, null, null, g, cols, 1e-5);
  const got = await withForm("lane", () => run(x, null, null, g, [rows, cols], 1e-5));
  // Two columns: xhat = ±1 (up to eps), so every row checks its own statistics.
  assertAllClose(got[0], ref.y, { atol: 2e-5, rtol: 1e-5, msg: "y" });
  assertAllClose(got[1], ref.dx, { atol: 5e-5, rtol: 1e-4, msg: "dx" });
});

for (const form of FORMS) {
  Deno.test(`layerNorm() ${form} form: split launches equal the unsplit one`, async () => {
    await withForm(form, async () => {
      for (const cols of [96, 33]) {
        const run = () => {
          const x = T.tensor(randomArray(210 * cols, 7), [3, 70, cols], { requiresGrad: true });
          const w = T.tensor(randomArray(cols, 8), [cols], { requiresGrad: true });
          const b = T.tensor(randomArray(cols, 9), [cols], { requiresGrad: true });
          const y = T.layerNorm(x, w, b);
          y.backward({ grad: T.tensor(randomArray(210 * cols, 10), [3, 70, cols]) });
          return [y, x.grad!, w.grad!, b.grad!];
        };
        await assertSplitEqual(`[3, 70, ${cols}] ${form}`, 64 * 1024, () => run().slice(0, 2));
        // dw, db sum over rows: the split adds partial sums in another order.
        await assertSplitEqual(`[3, 70, ${cols}] ${form} dw, db`, 64 * 1024, () => run().slice(2), {
          rtol: 1e-5,
          atol: 1e-5,
        });
      }
    });
  });
}
