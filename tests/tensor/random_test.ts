import { assert, assertAllClose, assertEquals } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { initGpu } from "./_util.ts";

await initGpu();

Deno.test("philox4x32() matches the Random123 known-answer vectors", () => {
  // Random123 kat_vectors: philox4x32_10
  assertEquals(T.philox4x32([0, 0, 0, 0], [0, 0]), [
    0x6627e8d5,
    0xe169c58d,
    0xbc57ac4c,
    0x9b00dbd8,
  ]);
  assertEquals(
    T.philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]),
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  );
});

Deno.test("rand() on the GPU is bitwise equal to philoxUniform() on the CPU", async () => {
  const g = await T.rand([37], { seed: 123, offset: 5 }).toArray();
  assertEquals(Array.from(g), Array.from(T.philoxUniform(37, 123, 5)));
  const again = await T.rand([37], { seed: 123, offset: 5 }).toArray();
  assertEquals(Array.from(again), Array.from(g));
});

Deno.test("randn() matches philoxNormal() and has unit moments", async () => {
  const n = 4001;
  const g = Array.from(await T.randn([n], { seed: 9 }).toArray());
  assertAllClose(g, T.philoxNormal(n, 9), { atol: 2e-5, rtol: 1e-5 });
  const mean = g.reduce((a, b) => a + b, 0) / n;
  const v = g.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  assert(Math.abs(mean) < 0.06 && Math.abs(v - 1) < 0.08, `moments ${mean} ${v}`);
});

Deno.test("dropout() scales kept elements and backward reuses the same mask", async () => {
  const x = T.tensor(new Float32Array(400).fill(1), [400], { requiresGrad: true });
  const y = T.dropout(x, 0.25, { seed: 3 });
  const yv = await y.toArray();
  const kept = yv.filter((v) => v !== 0);
  assert(kept.every((v) => Math.abs(v - 4 / 3) < 1e-6));
  assert(kept.length > 260 && kept.length < 340, `kept ${kept.length}`);
  y.sum().backward();
  assertEquals(Array.from(await x.grad!.toArray()), Array.from(yv));
  assertEquals(T.dropout(x, 0.5, { training: false }), x);
});

Deno.test("dropPath() keeps or drops whole samples", async () => {
  const x = T.ones([64, 3, 2]);
  const y = await T.dropPath(x, 0.5, { seed: 11 }).toArray();
  for (let b = 0; b < 64; b++) {
    const s = y.slice(b * 6, b * 6 + 6);
    assert(s.every((v) => v === s[0]) && (s[0] === 0 || s[0] === 2), `sample ${b}`);
  }
});
