/**
 * Reductions whose loops would pass llvmpipe's cap of 65,535 iterations per invocation (a longer
 * loop silently stops: wrong results): argmax/argmin/max/min over long columns and long rows, in
 * both kernel forms. PyTorch's rules: the lowest index wins ties, the first NaN wins.
 */
import { assertEquals } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { initGpu } from "./_util.ts";
import { gpu } from "../../src/gpu/mod.ts";
import { FORMS, withForm } from "../kernels/_rows.ts";

await initGpu();

/** Column-major-ish data [rows, cols] with small values, the given cells overwritten. */
function columns(rows: number, cols: number, set: [number, number, number][]): Float32Array {
  const v = new Float32Array(rows * cols);
  for (let i = 0; i < v.length; i++) v[i] = ((i * 7919) % 1000) / 1000;
  for (const [r, c, x] of set) v[r * cols + c] = x;
  return v;
}

Deno.test("argmax()/argmin() over a column longer than 65535 find the last row and the first tie", async () => {
  for (const form of FORMS) {
    for (const cols of [3, 4, 8]) {
      await withForm(form, async () => {
        const rows = 70000;
        // Column 0: maximum at the last row. Column 1: maximum 5 at row 5, ties later (also past
        // 65535). Column 2: NaN at row 66000 then at 69000 (the first NaN wins), minimum at 69999.
        const v = columns(rows, cols, [
          [69999, 0, 9],
          [5, 1, 5],
          [30000, 1, 5],
          [69000, 1, 5],
          [66000, 2, NaN],
          [69000, 2, NaN],
          [69999, 1, -3],
          [68000, 0, -4],
        ]);
        const x = T.tensor(v, [rows, cols]);
        const am = await T.argmax(x, 0).toArray();
        const an = await T.argmin(x, 0).toArray();
        const mx = await T.max(x, 0).toArray();
        const mn = await T.min(x, 0).toArray();
        // i32 (values cast: ties of 0 everywhere but the planted cells) and f16 (values f32 pairs).
        const xi = T.cast(x, "i32");
        const ai = [...await T.argmax(xi, 0).toArray()].slice(0, 2);
        const ni = [...await T.argmin(xi, 0).toArray()].slice(0, 2);
        assertEquals([ai, ni], [[69999, 5], [68000, 69999]], `i32 ${form} cols ${cols}`);
        xi.dispose();
        if (gpu().hasF16) {
          const xh = T.cast(x, "f16");
          const ah = [...await T.argmax(xh, 0).toArray()].slice(0, 3);
          assertEquals(ah, [69999, 5, 66000], `f16 ${form} cols ${cols}`);
          xh.dispose();
        }
        x.dispose();
        const tag = `${form} cols ${cols}`;
        assertEquals([am[0], am[1], am[2]], [69999, 5, 66000], `argmax ${tag}`);
        assertEquals([an[0], an[1], an[2]], [68000, 69999, 66000], `argmin ${tag}`);
        assertEquals([mx[0], mx[1], mn[0], mn[1]], [9, 5, -4, -3], `max/min ${tag}`);
        assertEquals([Number.isNaN(mx[2]), Number.isNaN(mn[2])], [true, true], `NaN ${tag}`);
      });
    }
  }
});

Deno.test("argmax() over long rows (last dim) and over a flattened tensor of 4.2M elements", async () => {
  for (const form of FORMS) {
    await withForm(form, async () => {
      for (const n of [70000, 70001]) {
        const v = columns(2, n, [[0, n - 1, 9], [1, 5, 5], [1, 40000, 5], [1, 69999, 5]]);
        const x = T.tensor(v, [2, n]);
        assertEquals([...await T.argmax(x, 1).toArray()], [n - 1, 5], `${form} [2, ${n}]`);
        assertEquals([...await T.argmin(T.neg(x), -1).toArray()], [n - 1, 5], `${form} argmin`);
        x.dispose();
      }
      // 64 threads x 65535 iterations = 4,194,240: one more element than a workgroup reaches.
      const n = 4_194_304 + 8;
      const v = new Float32Array(n);
      v[n - 3] = 2;
      v[n - 1] = 2;
      const x = T.tensor(v, [n]);
      assertEquals(await T.argmax(x).item(), n - 3, `${form} flat argmax`);
      v[100] = NaN;
      v[n - 2] = NaN;
      const y = T.tensor(v, [1, n]);
      assertEquals(await T.argmax(y).item(), 100, `${form} flat first NaN`);
      assertEquals(Number.isNaN(await T.max(y).item()), true, `${form} flat NaN max`);
      x.dispose();
      y.dispose();
    });
  }
});

Deno.test("sum()/max() of a row split over binding windows longer than a workgroup's loop reach", async () => {
  // A pretend 32 MiB limit: 9M f32 (36 MB) splits into windows of ~8.4M elements, each longer
  // than 64 threads x 65535 iterations.
  const n = 9_000_000;
  const v = new Float32Array(n).fill(1);
  v[n - 1] = 7;
  v[8_000_000] = 5;
  for (const form of FORMS) {
    await withForm(form, async () => {
      gpu().setMaxBindingOverride(32 * 1024 * 1024);
      try {
        const x = T.tensor(v, [n]);
        assertEquals(await T.sum(x).item(), n + 10, `${form} sum`);
        assertEquals(await T.max(x).item(), 7, `${form} max`);
        assertEquals(await T.min(T.neg(x)).item(), -7, `${form} min`);
        x.dispose();
      } finally {
        gpu().setMaxBindingOverride(null);
      }
    });
  }
});

Deno.test("argmax()/argmin() of rows above the binding limit combine per-window pairs", async () => {
  for (const form of FORMS) {
    await withForm(form, async () => {
      for (const [rows, n, axis] of [[2, 3001, 1], [3000, 4, 0], [3001, 3, 0]] as const) {
        const v = columns(rows, n, [[rows - 1, n - 1, 5], [0, 7, 5], [2500, 0, NaN]]);
        const run = async () => {
          const x = T.tensor(v, [rows, n]);
          const r = [[...await T.argmax(x, axis).toArray()], [
            ...await T.argmin(x, axis).toArray(),
          ]];
          x.dispose();
          return r;
        };
        const want = await run();
        gpu().setMaxBindingOverride(4096);
        try {
          assertEquals(await run(), want, `${form} [${rows}, ${n}] axis ${axis}`);
        } finally {
          gpu().setMaxBindingOverride(null);
        }
      }
    });
  }
});
