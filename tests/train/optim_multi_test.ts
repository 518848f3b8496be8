import { assert, assertEquals } from "../assert.ts";
import { gpu, initGpu } from "../../src/gpu/mod.ts";
import { type Tensor, tensor } from "../../src/tensor/mod.ts";
import { AdamW, type AdamWGroup } from "../../src/train/optim/adamw.ts";
import { gradNorm } from "../../src/train/optim/clip.ts";
import { randn } from "../kernels/_torch_ops.ts";

await initGpu();

const f32 = (a: Float64Array) => new Float32Array(a);

// 36 parameters of odd sizes (across workgroup edges: 255, 256, 257, ...), in 3 groups.
const SIZES = Array.from(
  { length: 36 },
  (_, i) => [1, 3, 17, 255, 256, 257, 1000, 4099, 77][i % 9],
);
const SHAPES = SIZES.map((n, i) => i % 4 === 1 && n % 3 === 0 ? [3, n / 3] : [n]);
const FROZEN = new Set([2, 9, 20, 33]); // never get a gradient
const LATE = new Set([5, 14]); // get a gradient from step 2 on (their step count lags)

function makeParams(): Tensor[] {
  return SIZES.map((n, i) => tensor(f32(randn(n, 1000 + i)), SHAPES[i], { requiresGrad: true }));
}

function groupsOf(ps: Tensor[]): AdamWGroup[] {
  return [
    { params: ps.filter((_, i) => i % 3 === 0), lr: 1e-3, weightDecay: 0.1 },
    { params: ps.filter((_, i) => i % 3 === 1), lr: 3e-4, weightDecay: 0 },
    { params: ps.filter((_, i) => i % 3 === 2), lr: 2e-2, weightDecay: 0.05 },
  ];
}

function setGrads(ps: Tensor[], step: number): void {
  ps.forEach((p, i) => {
    p.grad?.dispose();
    p.grad = FROZEN.has(i) || (LATE.has(i) && step < 2)
      ? null
      : tensor(f32(randn(SIZES[i], 5000 + 100 * step + i, 0.01 * (1 + (i % 5)))), SHAPES[i]);
  });
}

/** Runs `steps` AdamW steps and returns every parameter, m and v (null where no state). */
async function run(
  multiTensor: boolean | "gather" | "bind",
  opts: { steps?: number; scaled?: boolean; limit?: number } = {},
): Promise<{ p: Float32Array[]; m: (Float32Array | null)[]; v: (Float32Array | null)[] }> {
  const ps = makeParams();
  const opt = new AdamW(groupsOf(ps), {
    multiTensor: multiTensor !== false,
    multiTensorMode: typeof multiTensor === "string" ? multiTensor : undefined,
  });
  gpu().setMaxBindingOverride(opts.limit ?? null);
  try {
    for (let s = 1; s <= (opts.steps ?? 3); s++) {
      setGrads(ps, s);
      if (opts.scaled) {
        const gn = gradNorm(ps, 0.05);
        opt.step({ gradScale: gn });
        gn.normAndCoef.dispose();
      } else opt.step();
      // Schedules change lr between steps.
      opt.groups[0].lr *= 0.9;
    }
  } finally {
    gpu().setMaxBindingOverride(null);
  }
  const p = await Promise.all(ps.map(async (t) => Float32Array.from(await t.toArray())));
  const st = ps.map((t) => opt.state(t));
  const m = await Promise.all(
    st.map(async (s) => s ? Float32Array.from(await s.expAvg.toArray()) : null),
  );
  const v = await Promise.all(
    st.map(async (s) => s ? Float32Array.from(await s.expAvgSq.toArray()) : null),
  );
  st.forEach((s, i) => {
    if (FROZEN.has(i)) assert(s === undefined, `frozen parameter ${i} got state`);
    else assertEquals(s!.step, (opts.steps ?? 3) - (LATE.has(i) ? 1 : 0), `step count of ${i}`);
  });
  ps.forEach((t) => {
    t.grad?.dispose();
    t.dispose();
  });
  return { p, m, v };
}

function assertBitwise(name: string, a: (Float32Array | null)[], b: (Float32Array | null)[]): void {
  a.forEach((x, i) => {
    const y = b[i];
    if (x === null || y === null) {
      assert(x === y, `${name}[${i}]: state in one run only`);
      return;
    }
    for (let j = 0; j < x.length; j++) {
      if (!Object.is(x[j], y[j])) {
        throw new Error(`${name}[${i}][${j}]: multi=${x[j]} | per-tensor=${y[j]}`);
      }
    }
  });
}

for (const mode of ["gather", "bind"] as const) {
  Deno.test(`AdamW multi-tensor (${mode}) step equals the per-tensor step bitwise (groups, frozen, late params)`, async () => {
    const a = await run(mode), b = await run(false);
    assertBitwise("param", a.p, b.p);
    assertBitwise("exp_avg", a.m, b.m);
    assertBitwise("exp_avg_sq", a.v, b.v);
    // Frozen parameters are untouched.
    const init = makeParams();
    for (const i of FROZEN) {
      assertBitwise("frozen", [a.p[i]], [Float32Array.from(await init[i].toArray())]);
    }
    init.forEach((t) => t.dispose());
  });

  Deno.test(`AdamW multi-tensor (${mode}) step with fused gradScale equals the per-tensor one bitwise`, async () => {
    const a = await run(mode, { scaled: true, steps: 2 }),
      b = await run(false, { scaled: true, steps: 2 });
    assertBitwise("param", a.p, b.p);
    assertBitwise("exp_avg", a.m, b.m);
  });

  Deno.test(`AdamW multi-tensor (${mode}) state in several buckets and a parameter above the binding limit`, async () => {
    // A pretend 4 KiB binding: buckets hold <= 1024 elements, so the parameters fill several,
    // and the 4099-element ones are updated on their own in binding windows.
    const a = await run(mode, { limit: 4096, steps: 2 }), b = await run(false, { steps: 2 });
    assertBitwise("param", a.p, b.p);
    assertBitwise("exp_avg_sq", a.v, b.v);
  });
}

Deno.test("AdamW.setState() state is copied into the flat buffers and continues like per-tensor", async () => {
  const results: Float32Array[][] = [];
  for (const multiTensor of [true, false]) {
    const ps = makeParams().slice(0, 6);
    const opt = new AdamW([{ params: ps, lr: 1e-3, weightDecay: 0.1 }], { multiTensor });
    ps.forEach((p, i) => {
      opt.setState(p, {
        step: 7 + i,
        expAvg: tensor(f32(randn(p.size, 70 + i, 0.01)), p.shape),
        expAvgSq: tensor(f32(randn(p.size, 80 + i, 0.01)).map((x) => x * x), p.shape),
      });
      p.grad = tensor(f32(randn(p.size, 90 + i, 0.01)), p.shape);
    });
    opt.step();
    const out: Float32Array[] = [];
    for (const p of ps) {
      out.push(Float32Array.from(await p.toArray()));
      out.push(Float32Array.from(await opt.state(p)!.expAvgSq.toArray()));
      assertEquals(opt.state(p)!.step, 8 + ps.indexOf(p));
    }
    results.push(out);
  }
  assertBitwise("restored", results[0], results[1]);
});

for (const mode of ["gather", "bind"] as const) {
  Deno.test(`AdamW multi-tensor (${mode}) step updates many parameters per dispatch`, () => {
    const rt = gpu();
    const labels: string[] = [];
    const launch = rt.launch;
    const ps = makeParams();
    setGrads(ps, 3);
    const opt = new AdamW(groupsOf(ps), { multiTensorMode: mode });
    rt.launch = function (k, args) {
      labels.push(k.label);
      return launch.call(this, k, args);
    };
    try {
      opt.step();
    } finally {
      rt.launch = launch;
    }
    const count = (prefix: string) => labels.filter((l) => l.startsWith(prefix)).length;
    const slots = Math.min(
      16,
      Math.floor((rt.device.limits.maxStorageBuffersPerShaderStage - 2) / 2),
    );
    const active = ps.length - FROZEN.size;
    assertEquals(count("adamw("), 0);
    assertEquals(count("adamw_multi"), mode === "bind" ? Math.ceil(active / slots) : 0);
    assertEquals(count("adamw_flat"), mode === "gather" ? 1 : 0, `labels: ${labels.join(", ")}`);
    ps.forEach((t) => {
      t.grad?.dispose();
      t.dispose();
    });
  });
}
