import { assert, assertEquals, assertThrows } from "../assert.ts";
import { gpu, initGpu } from "../../src/gpu/mod.ts";
import * as T from "../../src/tensor/mod.ts";
import { randomArray } from "./_util.ts";
import { assertSplitEqual, withBindingLimit } from "./_split.ts";

await initGpu();

// A pretend limit of 64 KiB: tensors of 20k-100k f32 elements are split in 2-7 launches.
const LIM = 64 * 1024;
const t = (shape: number[], seed: number, grad = false) =>
  T.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape, { requiresGrad: grad });

Deno.test("planChunks() splits an over-limit tensor into aligned windows within the limit", () => {
  withBindingLimit(LIM, () => {
    const x = T.zeros([100, 300]); // 120000 bytes
    const align = gpu().bindingAlignment;
    const chunks = T.planChunks("test", x.shape, [{ tensor: x, offset: 0, strides: x.strides }]);
    assert(chunks.length >= 2, `${chunks.length} chunks`);
    let covered = 0;
    for (const c of chunks) {
      const b = c.bindings[0];
      assert((b.offset ?? 0) % align === 0, `offset ${b.offset}`);
      assert((b.size ?? 0) <= LIM, `size ${b.size}`);
      assertEquals(c.flatStart, covered);
      assertEquals(c.offsets[0], c.flatStart - (b.offset ?? 0) / 4);
      covered += c.shape.reduce((a, d) => a * d, 1);
    }
    assertEquals(covered, x.size);
    x.dispose();
  });
});

Deno.test("planChunks() binds whole buffers in one chunk when everything fits", () => {
  const x = T.zeros([10, 3]);
  const chunks = T.planChunks("test", x.shape, [{ tensor: x, offset: 0, strides: x.strides }]);
  assertEquals(chunks.length, 1);
  assertEquals(chunks[0].bindings[0].offset, undefined);
  x.dispose();
});

Deno.test("split elementwise ops (add, mul, gelu, cast, broadcast, strided) equal the unsplit launch", async () => {
  await assertSplitEqual("add/mul/gelu", LIM, () => {
    const a = t([50000], 1), b = t([50000], 2);
    return [T.add(a, b), T.mul(a, b), T.gelu(a), T.sub(T.exp(a), 1)];
  });
  await assertSplitEqual("broadcast add [200, 130] + [130] and + [200, 1]", LIM, () => {
    const a = t([200, 130], 3), b = t([130], 4), c = t([200, 1], 5);
    return [T.add(a, b), T.mul(c, a), T.add(b, T.zeros([3, 200, 130]))];
  });
  await assertSplitEqual("cast f32 -> i32 and back", LIM, () => {
    const a = T.mul(t([40000], 6), 1000);
    return [T.cast(T.cast(a, "i32"), "f32")];
  });
  await assertSplitEqual("transposed copy, slices, pad, cat, arange", LIM, () => {
    const a = t([170, 230], 7);
    const at = T.contiguous(T.transpose(a));
    const s = T.contiguous(T.slice(a, 1, 3, 200, 2));
    return [at, s, T.pad(a, [2, 3, 1, 1], -1), T.cat([a, a], 0), T.arange(70000)];
  });
  if (gpu().hasF16) {
    await assertSplitEqual("cast f32 -> f16 -> f32", LIM, () => {
      const a = t([70000], 8);
      return [T.cast(T.cast(a, "f16"), "f32")];
    });
  }
});

Deno.test("split elementwise backward (broadcast grads summed down) equals the unsplit one", async () => {
  await assertSplitEqual("grad of gelu(a * b + c)", LIM, () => {
    const a = t([120, 200], 11, true), b = t([200], 12, true), c = t([120, 1], 13, true);
    const y = T.gelu(T.add(T.mul(a, b), c));
    T.sum(y).backward();
    return [y, a.grad!, c.grad!];
  });
  // b's gradient sums 120 rows: split into partial sums, so the order of additions differs.
  await assertSplitEqual("grad of b in gelu(a * b + c)", LIM, () => {
    const a = t([120, 200], 11, true), b = t([200], 12, true), c = t([120, 1], 13, true);
    T.sum(T.gelu(T.add(T.mul(a, b), c))).backward();
    return [b.grad!];
  }, { rtol: 1e-5, atol: 1e-5 });
});

Deno.test("split sum/mean/max over rows, columns and all equal the unsplit ones", async () => {
  await assertSplitEqual("sum/mean/max", LIM, () => {
    const a = t([90, 7, 50], 21);
    return [T.sum(a, 0), T.mean(a, [0, 1]), T.sum(a), T.max(a, 1), T.min(a, 0), T.sum(a, 2)];
  }, { rtol: 1e-5, atol: 1e-5 });
  await assertSplitEqual("argmax over blocks of rows", 4096, () => {
    const a = t([40, 300], 22);
    return [T.cast(T.argmax(a, 1), "f32")];
  });
  // A row above the limit: per-window (value, index) pairs, then one combine.
  await assertSplitEqual("argmax/argmin of rows above the limit", 4096, () => {
    const a = t([2, 3000], 23);
    return [T.cast(T.argmax(a, 1), "f32"), T.cast(T.argmin(a, 1), "f32")];
  });
});

Deno.test("an op that does not split names the kernel, the tensor and the limit", () => {
  withBindingLimit(LIM, () => {
    const x = T.zeros([1, 4, 100, 100]);
    const e = assertThrows(
      () => T.maxPool2d(x, { kernelSize: [2, 2] }),
      RangeError,
      `maxStorageBufferBindingSize ${LIM}`,
    );
    const msg = (e as Error).message;
    assert(/\[1, 4, 100, 100\]/.test(msg) && /pool/.test(msg), msg);
    x.dispose();
  });
});

Deno.test("split matmul (rows of A and C, batches, broadcast B, bias) equals the unsplit one", async () => {
  await assertSplitEqual("rows", LIM, () => [T.matmul(t([300, 64], 31), t([64, 48], 32))]);
  await assertSplitEqual("batches, shared B", LIM, () => [
    T.matmul(t([6, 50, 64], 33), t([64, 40], 34)),
  ]);
  await assertSplitEqual("batches, batched B", LIM, () => [
    T.matmul(t([2, 3, 50, 64], 35), t([2, 3, 64, 40], 36)),
  ]);
  await assertSplitEqual("strided A (a slice), linear with bias", LIM, () => {
    const x = t([2, 150, 70], 37);
    const xs = T.slice(x, 2, 3, 67);
    return [T.linear(xs, t([20, 64], 38), t([20], 39)), T.matmul(xs, t([64, 36], 40))];
  });
});

Deno.test("split linear backward equals the unsplit one (K split where a row spans too much)", async () => {
  // dx and the output are split over rows only: bitwise equal. The weight gradient reduces over
  // the 400 rows of a transposed view, so it is split along K into partial products.
  const run = () => {
    const x = t([4, 100, 64], 41, true), w = t([48, 64], 42, true), b = t([48], 43, true);
    const y = T.gelu(T.linear(x, w, b));
    T.sum(y).backward();
    return { y, x, w, b };
  };
  await assertSplitEqual("forward and dx", LIM, () => {
    const r = run();
    return [r.y, r.x.grad!];
  });
  await assertSplitEqual("dw, db", LIM, () => {
    const r = run();
    return [r.w.grad!, r.b.grad!];
  }, { rtol: 1e-5, atol: 1e-5 });
});

Deno.test("split layerNorm and softmax (forward and backward) equal the unsplit ones", async () => {
  const run = () => {
    const x = t([3, 70, 96], 51, true), w = t([96], 52, true), b = t([96], 53, true);
    const z = t([130, 150], 54, true);
    const y = T.layerNorm(x, w, b);
    const s = T.softmax(z);
    const ls = T.logSoftmax(T.slice(z, 0, 2));
    const loss = T.add(T.add(T.sum(T.mul(y, y)), T.sum(T.mul(s, z))), T.sum(T.mul(ls, 0.5)));
    loss.backward();
    return { y, s, ls, x, w, b, z };
  };
  await assertSplitEqual("forward, dx, dz", LIM, () => {
    const r = run();
    return [r.y, r.s, r.ls, r.x.grad!, r.z.grad!];
  });
  // Weight and bias gradients sum over the 210 rows: split into partial sums.
  await assertSplitEqual("dw, db", LIM, () => {
    const r = run();
    return [r.w.grad!, r.b.grad!];
  }, { rtol: 1e-5, atol: 1e-5 });
  // Rows equal to cols (statistics and weights have the same length).
  await assertSplitEqual("square", LIM, () => {
    const x = t([130, 130], 55);
    return [T.layerNorm(x, t([130], 56), t([130], 57)), T.layerNorm(x, null, null)];
  });
});

Deno.test("sum over more than 65535 rows is exact (long columns reduce through partials)", async () => {
  // llvmpipe stops a shader loop after 65,535 iterations: one thread per column once summed
  // only the first 65,535 rows.
  const x = T.ones([70001, 3]);
  assertEquals(Array.from(await T.sum(x, 0).toArray()), [70001, 70001, 70001]);
  const y = T.ones([7, 10001, 3]);
  assertEquals(Array.from(await T.mean(y, [0, 1]).toArray()), [1, 1, 1]);
  y.dispose();
  // And under a pretend binding limit (runs cut to the windows first).
  await assertSplitEqual("long columns split", LIM, () => [T.sum(x, 0)]);
  x.dispose();
});

Deno.test("bindingOf() binds a view at the start of a large storage; bindingOfView() any view", async () => {
  await assertSplitEqual("maxPool2d of the first rows of a large tensor", LIM, () => {
    const x = T.reshape(T.arange(40000), [1, 1, 200, 200]);
    return [T.maxPool2d(T.slice(x, 2, 0, 40), { kernelSize: [2, 2] })];
  });
  withBindingLimit(LIM, () => {
    const x = T.zeros([200, 200]);
    const tail = T.slice(x, 0, 150, 200);
    const { binding, offset } = T.bindingOfView(tail);
    assert((binding.size ?? 0) <= LIM, `size ${binding.size}`);
    assertEquals((binding.offset ?? 0) / 4 + offset, tail.offset);
    tail.dispose();
    x.dispose();
  });
});
