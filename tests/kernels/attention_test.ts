import { assert, assertAllClose } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import { mul, sum, type Tensor, tensor, tidy } from "../../src/tensor/mod.ts";
import { scaledDotProductAttention, type SdpaOptions } from "../../src/tensor/ops/attention.ts";
import { rope2d } from "../../src/tensor/ops/rope.ts";
import {
  attentionBackwardKernel,
  attentionBackwardKVKernel,
  attentionBackwardQKernel,
  attentionChunks,
  attentionForwardKernel,
  dropoutKeep,
  LAVAPIPE_LOOP_BUDGET,
} from "../../src/kernels/attention.ts";
import { sdpaBackwardRef, sdpaRef, type SdpaRefOptions } from "../reference/attention.ts";
import { ropeRef } from "../reference/rope.ts";
import { gap, get, loadOps, maxAbs, randn } from "./_torch_ops.ts";

await initGpu();

interface Shape {
  b: number;
  h: number;
  lq: number;
  lk: number;
  d: number;
}

/** Runs the op with loss = sum(out * w) and returns out and the q, k, v gradients. */
async function runSdpa(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  w: Float64Array,
  s: Shape,
  opts: Omit<SdpaOptions, "mask"> & { mask?: { data: Float64Array; shape: number[] } },
) {
  const r = tidy(() => {
    const t = (a: Float64Array, l: number) =>
      tensor(new Float32Array(a), [s.b, s.h, l, s.d], { requiresGrad: true });
    const [tq, tk, tv] = [t(q, s.lq), t(k, s.lk), t(v, s.lk)];
    const mask = opts.mask ? tensor(new Float32Array(opts.mask.data), opts.mask.shape) : undefined;
    const out = scaledDotProductAttention(tq, tk, tv, { ...opts, mask });
    sum(mul(out, tensor(new Float32Array(w), out.shape))).backward();
    return { out, gq: tq.grad!, gk: tk.grad!, gv: tv.grad! };
  });
  const f = async (x: Tensor) => new Float64Array(await x.toArray());
  return { out: await f(r.out), dq: await f(r.gq), dk: await f(r.gk), dv: await f(r.gv) };
}

Deno.test("scaledDotProductAttention() matches torch-ops sdpa fixture (no mask, mask with -inf)", async () => {
  const f = loadOps("sdpa");
  for (const v of ["nomask", "mask"]) {
    const s = { b: 1, h: 2, lq: 37, lk: 53, d: 16 };
    const mask = v === "mask" ? { data: get(f, `${v}/in.mask`).data, shape: [37, 53] } : undefined;
    const r = await runSdpa(
      get(f, `${v}/in.q`).data,
      get(f, `${v}/in.k`).data,
      get(f, `${v}/in.v`).data,
      get(f, `${v}/gout`).data,
      s,
      { mask },
    );
    // Tolerance: 10x PyTorch's own float32-vs-float64 gap for each tensor (about 3e-6).
    for (
      const [name, ours] of [["out", r.out], ["grad.q", r.dq], ["grad.k", r.dk], [
        "grad.v",
        r.dv,
      ]] as const
    ) {
      const ref = get(f, name === "out" ? `${v}/out_f64` : `${v}/${name}_f64`).data;
      assertAllClose(ours, ref, { atol: 10 * gap(f, v, name), rtol: 0, msg: `sdpa ${v} ${name}` });
    }
  }
});

Deno.test("sdpaRef() backward matches finite differences of sdpaRef()", () => {
  const s = { bh: 2, lq: 3, lk: 5, d: 4 };
  const q = randn(24, 1), k = randn(40, 2), v = randn(40, 3), w = randn(24, 4);
  const mask = randn(15, 5);
  mask[4] = -Infinity;
  const drop = (b: number, i: number, j: number) => (b + i + 2 * j) % 3 === 0 ? 0 : 1.5;
  const o: SdpaRefOptions = { mask, dropout: drop };
  const g = sdpaBackwardRef(q, k, v, w, s, o);
  const loss = (qq: Float64Array, kk: Float64Array, vv: Float64Array) =>
    sdpaRef(qq, kk, vv, s, o).reduce((a, x, i) => a + x * w[i], 0);
  const h = 1e-6;
  for (const [which, x, gr] of [[0, q, g.dq], [1, k, g.dk], [2, v, g.dv]] as const) {
    const fd = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const xp = Float64Array.from(x), xm = Float64Array.from(x);
      xp[j] += h;
      xm[j] -= h;
      const args = (z: Float64Array) =>
        [which === 0 ? z : q, which === 1 ? z : k, which === 2 ? z : v] as const;
      fd[j] = (loss(...args(xp)) - loss(...args(xm))) / (2 * h);
    }
    assertAllClose(gr, fd, { atol: 1e-7, rtol: 1e-6, msg: `input ${which}` });
  }
});

// Odd lengths (not multiples of any tile), L = 1, head dims 8/16/32/64, a non-power-of-two
// vec4 dim (12) and a scalar-path dim (6), masks shared and per head.
const cases: { name: string; s: Shape; mask?: "shared" | "head"; opts?: SdpaOptions }[] = [
  { name: "d8 L=1 query", s: { b: 1, h: 3, lq: 1, lk: 9, d: 8 } },
  { name: "d8 L=1 key", s: { b: 2, h: 1, lq: 5, lk: 1, d: 8 }, mask: "shared" },
  { name: "d16 odd", s: { b: 2, h: 2, lq: 67, lk: 29, d: 16 }, mask: "head" },
  { name: "d32 odd", s: { b: 1, h: 2, lq: 19, lk: 71, d: 32 } },
  { name: "d64 odd", s: { b: 1, h: 1, lq: 37, lk: 45, d: 64 }, mask: "shared" },
  { name: "d256 (tiles narrow the workgroup)", s: { b: 1, h: 1, lq: 5, lk: 7, d: 256 } },
  { name: "d16 150x900 (8x8 tiles, partial blocks)", s: { b: 1, h: 1, lq: 150, lk: 900, d: 16 } },
  // Long enough that lavapipe's 65535-loop-iteration limit forces several dispatches per pass
  // (keys for the forward and dQ, queries for dK/dV).
  {
    name: "d64 10000 keys (chunked dispatches)",
    s: { b: 1, h: 1, lq: 5, lk: 10000, d: 64 },
    mask: "shared",
  },
  {
    name: "d64 10000 queries (chunked dispatches)",
    s: { b: 1, h: 1, lq: 10000, lk: 5, d: 64 },
    mask: "shared",
  },
  { name: "d12 non-pow2", s: { b: 1, h: 3, lq: 23, lk: 17, d: 12 } },
  { name: "d6 scalar path", s: { b: 1, h: 2, lq: 11, lk: 13, d: 6 }, opts: { scale: 0.3 } },
  {
    name: "d16 rows=3 block=5 wg=4",
    s: { b: 1, h: 2, lq: 26, lk: 31, d: 16 },
    opts: { tiling: { rows: 3, block: 5, wg: 4 } },
  },
  // The real-GPU configuration (specOf's non-CPU branch: 32 invocations of 2-row tiles, split
  // backward), forced here so lavapipe runs it too; clamped rows at both ends of the tile.
  {
    name: "GPU tiling rows=2 block=8 wg=32, mask per head",
    s: { b: 1, h: 3, lq: 67, lk: 75, d: 16 },
    mask: "head",
    opts: { tiling: { rows: 2, block: 8, wg: 32, onePass: false } },
  },
  // The one-pass backward (one invocation per head: dQ, dK and dV in one kernel), forced, and
  // chosen by default for many short heads on a CPU adapter (Hiera's windows).
  {
    name: "one-pass d96 windows (16-key tiles, partial), mask per head",
    s: { b: 2, h: 3, lq: 19, lk: 70, d: 96 },
    mask: "head",
    opts: { tiling: { onePass: true } },
  },
  {
    name: "one-pass d6 scalar path, shared mask",
    s: { b: 1, h: 2, lq: 11, lk: 13, d: 6 },
    mask: "shared",
    opts: { scale: 0.3, tiling: { onePass: true } },
  },
  {
    name: "one-pass d12 rows=3 block=5 wg=4",
    s: { b: 1, h: 5, lq: 23, lk: 17, d: 12 },
    opts: { tiling: { rows: 3, block: 5, wg: 4, onePass: true } },
  },
  {
    name: "one-pass d64 10000 keys (chunked dispatches)",
    s: { b: 1, h: 1, lq: 5, lk: 10000, d: 64 },
    mask: "shared",
    opts: { tiling: { onePass: true } },
  },
  { name: "d8 72 heads of 9 tokens (one-pass by default)", s: { b: 8, h: 9, lq: 9, lk: 9, d: 8 } },
  {
    name: "d8 72 heads of 9 tokens, one-pass ruled out",
    s: { b: 8, h: 9, lq: 9, lk: 9, d: 8 },
    opts: { tiling: { onePass: false } },
  },
];

for (const c of cases) {
  Deno.test(`scaledDotProductAttention() ${c.name} matches float64 reference forward and backward`, async () => {
    const { b, h, lq, lk, d } = c.s;
    const bh = b * h;
    const q = randn(bh * lq * d, 11), k = randn(bh * lk * d, 12), v = randn(bh * lk * d, 13);
    const w = randn(bh * lq * d, 14);
    let mask: { data: Float64Array; shape: number[] } | undefined;
    if (c.mask) {
      const n = (c.mask === "head" ? bh : 1) * lq * lk;
      const data = randn(n, 15);
      for (let i = 0; i < n; i += 4) data[i] = -Infinity;
      for (let r = 0; r < n / lk; r++) data[r * lk + (r % lk)] = 0; // never a whole -inf row
      mask = { data, shape: c.mask === "head" ? [b, h, lq, lk] : [lq, lk] };
    }
    const ro: SdpaRefOptions = {
      mask: mask?.data,
      maskPerHead: c.mask === "head",
      scale: c.opts?.scale,
    };
    const geo = { bh, lq, lk, d };
    const ref = sdpaRef(q, k, v, geo, ro);
    const rg = sdpaBackwardRef(q, k, v, w, geo, ro);
    const r = await runSdpa(q, k, v, w, c.s, { ...c.opts, mask });
    // Float32 accumulation over Lk terms of size ~1: 2e-5 absolute covers d <= 64, L <= 71.
    assertAllClose(r.out, ref, { atol: 2e-5, rtol: 1e-4, msg: `${c.name} out` });
    assertAllClose(r.dq, rg.dq, { atol: 5e-5, rtol: 1e-4, msg: `${c.name} dq` });
    assertAllClose(r.dk, rg.dk, { atol: 5e-5, rtol: 1e-4, msg: `${c.name} dk` });
    assertAllClose(r.dv, rg.dv, { atol: 5e-5, rtol: 1e-4, msg: `${c.name} dv` });
  });
}

for (const onePass of [undefined, true]) {
  Deno.test(`scaledDotProductAttention() dropout is reproducible and backward uses the same mask${onePass ? " (one-pass backward)" : ""}`, async () => {
    const tiling = onePass ? { onePass } : undefined;
    const s = { b: 1, h: 2, lq: 21, lk: 17, d: 8 };
    const bh = 2, p = 0.3, seed = 4242;
    const q = randn(bh * 21 * 8, 21), k = randn(bh * 17 * 8, 22), v = randn(bh * 17 * 8, 23);
    const w = randn(bh * 21 * 8, 24);
    const thr = Math.floor(p * 2 ** 32);
    const dropout = (b: number, i: number, j: number) =>
      dropoutKeep(seed, b, i, j) >= thr ? 1 / (1 - p) : 0;
    const geo = { bh, lq: 21, lk: 17, d: 8 };
    const ref = sdpaRef(q, k, v, geo, { dropout });
    const rg = sdpaBackwardRef(q, k, v, w, geo, { dropout });
    const r = await runSdpa(q, k, v, w, s, { dropoutP: p, seed, tiling });
    assertAllClose(r.out, ref, { atol: 2e-5, rtol: 1e-4, msg: "dropout out" });
    assertAllClose(r.dq, rg.dq, { atol: 5e-5, rtol: 1e-4, msg: "dropout dq" });
    assertAllClose(r.dk, rg.dk, { atol: 5e-5, rtol: 1e-4, msg: "dropout dk" });
    assertAllClose(r.dv, rg.dv, { atol: 5e-5, rtol: 1e-4, msg: "dropout dv" });
    // About p of the weights are dropped.
    let dropped = 0;
    for (let b = 0; b < bh; b++) {
      for (let i = 0; i < 21; i++) {
        for (let j = 0; j < 17; j++) {
          dropped += dropout(b, i, j) === 0 ? 1 : 0;
        }
      }
    }
    const frac = dropped / (bh * 21 * 17);
    assert(Math.abs(frac - p) < 0.06, `dropped fraction ${frac} far from ${p}`);
    const again = await runSdpa(q, k, v, w, s, { dropoutP: p, seed, tiling });
    assert(maxAbs(again.out, r.out) === 0, "same seed gave a different output");
  });
}

Deno.test("rope2d() matches torch-ops rope_2d fixture (q, and k with rope_k_repeat)", async () => {
  const f = loadOps("rope_2d");
  const V = "q12_k24_repeat";
  for (const [name, l, repeat] of [["q", 12, false], ["k", 24, true]] as const) {
    const r = tidy(() => {
      const x = tensor(new Float32Array(get(f, `${V}/in.${name}`).data), [1, 1, l, 16], {
        requiresGrad: true,
      });
      const y = rope2d(x, { endX: 4, endY: 3, repeat });
      sum(mul(y, tensor(new Float32Array(get(f, `${V}/gout.${name}`).data), y.shape))).backward();
      return { y, g: x.grad! };
    });
    // 3x PyTorch's float32-vs-float64 gap (~8e-7).
    assertAllClose(await r.y.toArray(), get(f, `${V}/out.${name}_f64`).data, {
      atol: 3 * gap(f, V, `out.${name}`),
      rtol: 0,
      msg: `rope out.${name}`,
    });
    assertAllClose(await r.g.toArray(), get(f, `${V}/grad.${name}_f64`).data, {
      atol: 3 * gap(f, V, `grad.${name}`),
      rtol: 0,
      msg: `rope grad.${name}`,
    });
  }
});

Deno.test("scaledDotProductAttention() with rope inside equals rope2d then attention (repeat, excluded pointer keys)", async () => {
  // Memory attention shape in miniature: 12 queries on a 4x3 map, keys = 2 frames + 5 pointers.
  const s = { b: 1, h: 1, lq: 12, lk: 29, d: 8 };
  const q = randn(12 * 8, 31), k = randn(29 * 8, 32), v = randn(29 * 8, 33), w = randn(12 * 8, 34);
  const rq = ropeRef(q, { bh: 1, l: 12, d: 8 }, { endX: 4, endY: 3 });
  const rk = ropeRef(k, { bh: 1, l: 29, d: 8 }, { endX: 4, endY: 3, repeat: true, numExclude: 5 });
  const geo = { bh: 1, lq: 12, lk: 29, d: 8 };
  const ref = sdpaRef(rq, rk, v, geo);
  const rg = sdpaBackwardRef(rq, rk, v, w, geo);
  // Chain rule through the rotation: d/dq = R^-1 d/d(Rq).
  const dq = ropeRef(rg.dq, { bh: 1, l: 12, d: 8 }, { endX: 4, endY: 3 }, true);
  const dk = ropeRef(rg.dk, { bh: 1, l: 29, d: 8 }, {
    endX: 4,
    endY: 3,
    repeat: true,
    numExclude: 5,
  }, true);
  const r = await runSdpa(q, k, v, w, s, {
    rope: { endX: 4, endY: 3, kRepeat: true, numKExclude: 5 },
  });
  assertAllClose(r.out, ref, { atol: 2e-5, rtol: 1e-4, msg: "rope attention out" });
  assertAllClose(r.dq, dq, { atol: 5e-5, rtol: 1e-4, msg: "rope attention dq" });
  assertAllClose(r.dk, dk, { atol: 5e-5, rtol: 1e-4, msg: "rope attention dk" });
  assertAllClose(r.dv, rg.dv, { atol: 5e-5, rtol: 1e-4, msg: "rope attention dv" });
});

Deno.test("attentionChunks() keeps every lavapipe dispatch within the loop budget and covers the stream", () => {
  for (const d of [8, 64, 256]) {
    for (
      const make of [attentionForwardKernel, attentionBackwardQKernel, attentionBackwardKVKernel]
    ) {
      const k = make({ d, rows: 8, block: 8, wg: 8 });
      const chunks = attentionChunks(k, 28672, LAVAPIPE_LOOP_BUDGET);
      if (d >= 64) assert(chunks.length > 1, `d ${d}: 28672 rows fit one dispatch`);
      let next = 0;
      for (const [s, e] of chunks) {
        assert(s === next && e > s, `gap or empty chunk at ${s}`);
        assert(s % k.block === 0, `chunk start ${s} splits a block`);
        const loops = k.loopsFixed + Math.ceil((e - s) / k.block) * k.loopsPerBlock;
        assert(loops <= LAVAPIPE_LOOP_BUDGET, `chunk of ${loops} loop iterations`);
        next = e;
      }
      assert(next === 28672, `chunks end at ${next}`);
      assert(attentionChunks(k, 28672, Infinity).length === 1, "a GPU gets one dispatch");
    }
  }
});

Deno.test("attentionChunks() splits the one-pass backward's keys in whole key blocks within the loop budget", () => {
  // Shapes the op runs one-pass (a key block and the delta pass fit the budget with room).
  for (const [d, lq] of [[8, 64], [96, 64], [256, 32]]) {
    const k = attentionBackwardKernel({ d, rows: 8, block: 8, wg: 8 });
    const chunks = attentionChunks(k, 28672, LAVAPIPE_LOOP_BUDGET, lq);
    assert(chunks.length > 1, `d ${d}: 28672 keys fit one dispatch`);
    let next = 0;
    for (const [s, e] of chunks) {
      assert(s === next && e > s, `gap or empty chunk at ${s}`);
      assert(s % k.rows === 0, `chunk start ${s} splits a key block`);
      // Delta pass over all queries, then per key block a sweep over the query blocks.
      const loops = lq * k.loopsFixed + 1 +
        Math.ceil((e - s) / k.rows) * (Math.ceil(lq / k.block) * k.loopsPerBlock + 1);
      assert(loops <= LAVAPIPE_LOOP_BUDGET, `chunk of ${loops} loop iterations`);
      next = e;
    }
    assert(next === 28672, `chunks end at ${next}`);
    assert(attentionChunks(k, 28672, Infinity, lq).length === 1, "a GPU gets one dispatch");
  }
});

Deno.test("attention kernels declare the bindings their descriptor lists, and windowed indices use each binding's own offset", () => {
  const makers = [
    attentionForwardKernel,
    attentionBackwardQKernel,
    attentionBackwardKVKernel,
    attentionBackwardKernel,
  ];
  for (const make of makers) {
    for (const mask of [false, true]) {
      const k = make({ d: 8, dv: 12, rows: 2, block: 3, wg: 4, mask, windowed: true });
      const decl = [...k.code.matchAll(/@binding\((\d+)\) var<(\w+)(?:, (\w+))?> (\w+)/g)];
      assert(decl.length === k.bindings.length, `${k.label}: ${decl.length} declarations`);
      const names = new Map<string, number>();
      decl.forEach(([, i, space, access, name], at) => {
        assert(Number(i) === at, `${k.label}: binding ${i} declared at position ${at}`);
        const kind = space === "uniform" ? "uniform" : access === "read" ? "read" : "write";
        assert(kind === k.bindings[at], `${k.label}: ${name} is ${kind}, listed ${k.bindings[at]}`);
        names.set(name, at);
      });
      assert(names.has("mask") === mask, `${k.label}: mask bound = ${names.has("mask")}`);
      // Every buffer index in the windowed variant starts with that buffer's own offset.
      const reads = [...k.code.matchAll(/\b(\w+)\[u\.o(\d+) \+ /g)];
      assert(reads.length > 0, `${k.label}: no windowed index`);
      for (const [, name, o] of reads) {
        assert(names.get(name) === Number(o), `${k.label}: ${name} indexed with offset o${o}`);
      }
      const plain = make({ d: 8, dv: 12, rows: 2, block: 3, wg: 4, mask });
      assert(!/u\.o\d/.test(plain.code), `${plain.label}: plain variant reads window offsets`);
    }
  }
});
