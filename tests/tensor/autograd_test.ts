import { assert, assertAllClose, assertEquals, assertThrows } from "../assert.ts";
import { gpu } from "../../src/gpu/mod.ts";
import * as T from "../../src/tensor/mod.ts";
import { accountedLiveBytes, initGpu } from "./_util.ts";

await initGpu();

Deno.test("backward() accumulates into .grad across calls like PyTorch", async () => {
  const x = T.tensor([1, 2, 3], [3], { requiresGrad: true });
  T.sum(T.mul(x, x)).backward();
  T.sum(T.mul(x, 3)).backward();
  assertAllClose(await x.grad!.toArray(), [5, 7, 9]);
});

Deno.test("a tensor used twice gets the sum of both gradients; broadcast grads sum down", async () => {
  const x = T.tensor([1, 2], [2, 1], { requiresGrad: true });
  const b = T.tensor([1, 1, 1], [3], { requiresGrad: true });
  const y = T.add(T.mul(x, b), x); // [2,3]
  y.sum().backward();
  assertAllClose(await x.grad!.toArray(), [6, 6]);
  assertAllClose(await b.grad!.toArray(), [3, 3, 3]);
});

Deno.test("noGrad() and detach() cut the tape; frozen inputs get no gradient", async () => {
  const w = T.tensor([1, 2], [2], { requiresGrad: true });
  const frozen = T.tensor([3, 4], [2]);
  const y = T.noGrad(() => T.mul(w, 2));
  assert(!y.requiresGrad && y.node === null);
  const z = T.mul(w.detach(), 2);
  assert(!z.requiresGrad);
  const l = T.sum(T.mul(w, frozen));
  l.backward();
  assertEquals(frozen.grad, null);
  assertAllClose(await w.grad!.toArray(), [3, 4]);
  assertThrows(() => T.sum(z).backward(), Error, "does not require grad");
  assertThrows(() => T.mul(w, 1).backward(), RangeError, "one-element");
});

Deno.test("tidy() releases intermediates but keeps what backward needs", async () => {
  const w = T.tensor([0.5, -1, 2], [3], { requiresGrad: true });
  const before = accountedLiveBytes();
  const loss = T.tidy(() => T.sum(T.exp(T.mul(w, 2))));
  loss.backward();
  const g = await w.grad!.toArray();
  assertAllClose(g, [0.5, -1, 2].map((v) => 2 * Math.exp(2 * v)), { rtol: 1e-5 });
  loss.dispose();
  w.grad!.dispose();
  w.grad = null;
  assertEquals(accountedLiveBytes(), before);
});

Deno.test("checkpoint() recomputes in backward and gives the same gradients", async () => {
  const f = (x: T.Tensor) => T.sum(T.gelu(T.mul(x, x)));
  const a = T.tensor([0.1, -0.7, 1.3], [3], { requiresGrad: true });
  f(a).backward();
  const b = T.tensor([0.1, -0.7, 1.3], [3], { requiresGrad: true });
  T.checkpoint((x) => f(x), [b]).backward();
  assertAllClose(await b.grad!.toArray(), await a.grad!.toArray(), { atol: 1e-7 });
});

// `using` releases the storage at block end (Tensor implements Symbol.dispose).
Deno.test("using disposes a tensor at the end of the block", () => {
  const live = accountedLiveBytes();
  {
    using t = T.zeros([1000]);
    assert(accountedLiveBytes() > live);
    assert(!t.disposed);
  }
  assertEquals(accountedLiveBytes(), live);
});

Deno.test("an op on a disposed tensor names the problem", () => {
  const t = T.zeros([2]);
  t.dispose();
  assertThrows(() => T.add(t, 1), Error, "used after dispose");
});

Deno.test("a tensor above maxBufferSize fails with an error naming the limit", () => {
  // Above maxStorageBufferBindingSize is fine (ops split; see launch_split_test.ts).
  const n = Math.floor(gpu().device.limits.maxBufferSize / 4) + 1;
  assertThrows(() => T.zeros([n]), RangeError, "maxBufferSize");
});

Deno.test("backward() frees each intermediate gradient once it was propagated", async () => {
  const n = 1 << 16, bytes = n * 4;
  const x = T.tensor(new Float32Array(n).fill(1), [n], { requiresGrad: true });
  const pool = gpu().pool;
  const loss = T.tidy(() => {
    let y = x;
    for (let i = 0; i < 12; i++) y = T.mul(y, 1.01);
    return T.sum(y);
  });
  await gpu().sync();
  const before = pool.stats().liveBytes;
  pool.resetPeak();
  loss.backward();
  await gpu().sync();
  // The chain's 12 saved activations are released as backward walks it; gradients never pile up.
  assert(
    pool.stats().peakBytes - before <= 3 * bytes,
    `peak grew ${pool.stats().peakBytes - before}`,
  );
  assertAllClose([(await x.grad!.toArray())[0]], [1.01 ** 12], { rtol: 1e-5 });
  loss.dispose();
});

Deno.test("leaf gradients are each their own buffer, whether adopted or copied", async () => {
  // add's backward hands the same gradient to both inputs: one leaf copies it, the other adopts.
  const a = T.tensor([1, 2], [2], { requiresGrad: true });
  const b = T.tensor([3, 4], [2], { requiresGrad: true });
  T.sum(T.mul(T.add(a, b), 3)).backward();
  assert(a.grad!.storage !== b.grad!.storage, "a.grad and b.grad share a buffer");
  T.updateInPlace(a.grad!, "{self} * 2", {});
  assertAllClose(await a.grad!.toArray(), [6, 6]);
  assertAllClose(await b.grad!.toArray(), [3, 3]);
  // A gradient the caller passes in is never taken over.
  const x = T.tensor([1, 2, 3], [3], { requiresGrad: true });
  const g = T.tensor([0.5, 1, 2], [3]);
  T.mul(x, 1).backward({ grad: g });
  assert(x.grad!.storage !== g.storage);
  assertAllClose(await g.toArray(), [0.5, 1, 2]);
  assertAllClose(await x.grad!.toArray(), [0.5, 1, 2]);
  // A view of a buffer another tensor holds is copied, not adopted.
  const w = T.tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
  T.sum(T.mul(T.reshape(w, [4]), T.tensor([1, 2, 3, 4], [4]))).backward();
  assertAllClose(await w.grad!.toArray(), [1, 2, 3, 4]);
  assertEquals(w.grad!.shape, [2, 2]);
});
