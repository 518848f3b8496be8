import { assertAllClose, assertEquals } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import { type Tensor, tensor, tidy } from "../../src/tensor/mod.ts";
import { RoPEAttention } from "../../src/nn/attention.ts";
import { sdpaRef } from "../reference/attention.ts";
import { ropeRef } from "../reference/rope.ts";
import { randn } from "../kernels/_torch_ops.ts";

await initGpu();

const read = async (t: Tensor) => new Float64Array(await t.toArray());

/** x [n, cin] W^T + b in float64. */
function linearRef(x: Float64Array, w: Float64Array, b: Float64Array, n: number, cin: number) {
  const cout = b.length;
  const y = new Float64Array(n * cout);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < cout; o++) {
      let a = b[o];
      for (let c = 0; c < cin; c++) a += x[i * cin + c] * w[o * cin + c];
      y[i * cout + o] = a;
    }
  }
  return y;
}

/** [n, h·c] -> [h, n, c] and back. */
const split = (x: Float64Array, n: number, h: number, c: number) =>
  Float64Array.from({ length: x.length }, (_, i) => {
    const hh = Math.floor(i / (n * c)), r = i % (n * c), t = Math.floor(r / c), cc = r % c;
    return x[t * h * c + hh * c + cc];
  });
const merge = (x: Float64Array, n: number, h: number, c: number) =>
  Float64Array.from({ length: x.length }, (_, i) => {
    const t = Math.floor(i / (h * c)), hh = Math.floor((i % (h * c)) / c), cc = i % c;
    return x[(hh * n + t) * c + cc];
  });

Deno.test("RoPEAttention() keys and forward match SAM 2 semantics (2 heads, k repeat, excluded pointers)", async () => {
  const m = new RoPEAttention(16, 2, { ropeKRepeat: true, kvInDim: 12 });
  m.eval();
  assertEquals(m.namedParameters().map(([k]) => k), [
    "q_proj.weight",
    "q_proj.bias",
    "k_proj.weight",
    "k_proj.bias",
    "v_proj.weight",
    "v_proj.bias",
    "out_proj.weight",
    "out_proj.bias",
  ]);
  const nq = 9, nk = 2 * 9 + 4, exclude = 4;
  const q = randn(nq * 16, 1), k = randn(nk * 12, 2), v = randn(nk * 12, 3);
  const out = tidy(() =>
    m.forward(
      tensor(new Float32Array(q), [1, nq, 16]),
      tensor(new Float32Array(k), [1, nk, 12]),
      tensor(new Float32Array(v), [1, nk, 12]),
      exclude,
    )
  );
  const P = Object.fromEntries(
    await Promise.all(m.namedParameters().map(async ([n, t]) => [n, await read(t)] as const)),
  );
  const qp = split(linearRef(q, P["q_proj.weight"], P["q_proj.bias"], nq, 16), nq, 2, 8);
  const kp = split(linearRef(k, P["k_proj.weight"], P["k_proj.bias"], nk, 12), nk, 2, 8);
  const vp = split(linearRef(v, P["v_proj.weight"], P["v_proj.bias"], nk, 12), nk, 2, 8);
  const qr = ropeRef(qp, { bh: 2, l: nq, d: 8 }, { endX: 3, endY: 3 });
  const kr = ropeRef(kp, { bh: 2, l: nk, d: 8 }, {
    endX: 3,
    endY: 3,
    repeat: true,
    numExclude: exclude,
  });
  const o = merge(sdpaRef(qr, kr, vp, { bh: 2, lq: nq, lk: nk, d: 8 }), nq, 2, 8);
  const ref = linearRef(o, P["out_proj.weight"], P["out_proj.bias"], nq, 16);
  assertAllClose(await read(out), ref, { atol: 2e-5, rtol: 1e-4, msg: "RoPEAttention" });
});
