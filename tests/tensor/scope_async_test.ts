import { assert, assertAllClose, assertEquals, assertRejects } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { accountedLiveBytes, initGpu } from "./_util.ts";

await initGpu();

const live = accountedLiveBytes;
const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("tidyAsync() frees tensors made across awaits, except the result and kept ones", async () => {
  const before = live();
  let inner: T.Tensor[] = [];
  let kept: T.Tensor | null = null;
  const out = await T.tidyAsync(async () => {
    const a = T.tensor([1, 2, 3], [3]);
    const b = T.mul(a, 2);
    const v = await b.toArray(); // a read back: the scope stays open across the await
    await tick();
    const c = T.add(b, v[0]);
    // A synchronous scope inside: what it returns moves to the async scope, and is freed too.
    const d = T.tidy(() => T.mul(T.add(c, 1), 3));
    kept = T.keep(T.mul(a, 10));
    inner = [a, b, c, d];
    return { sum: T.sum(d), n: 3 };
  });
  assert(inner.every((t) => t.disposed), "intermediates disposed");
  assert(!out.sum.disposed && !kept!.disposed);
  assertAllClose(await out.sum.toArray(), [3 * (4 + 6 + 8 + 3)]);
  assertAllClose(await kept!.toArray(), [10, 20, 30]);
  assertEquals(out.n, 3);
  out.sum.dispose();
  kept!.dispose();
  assertEquals(live(), before);
});

Deno.test("tidyAsync()'s result outlives it when no scope encloses it", async () => {
  const r = await T.tidyAsync(async () => {
    await tick();
    return T.tensor([4], [1]);
  });
  assert(!r.disposed);
  // Nothing encloses it: a later tidy does not take it.
  T.tidy(() => T.mul(r, 2));
  assert(!r.disposed);
  r.dispose();
});

Deno.test("tidyAsync() frees everything and reopens cleanly when fn rejects", async () => {
  const before = live();
  let made: T.Tensor | null = null;
  await assertRejects(
    () =>
      T.tidyAsync(async () => {
        made = T.tensor([1, 2], [2]);
        await tick();
        throw new Error("step failed");
      }),
    Error,
    "step failed",
  );
  assert(made!.disposed);
  assertEquals(live(), before);
  assert(!T.inAsyncScope());
  assertEquals(await T.tidyAsync(async () => (await T.tensor([5], [1]).item())), 5);
});

Deno.test("only one tidyAsync() may be open: a concurrent or nested one throws", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const first = T.tidyAsync(async () => {
    await gate;
    return 1;
  });
  assert(T.inAsyncScope());
  await assertRejects(
    () => T.tidyAsync(() => Promise.resolve(2)),
    Error,
    "another async scope is already open",
  );
  release();
  assertEquals(await first, 1);
  assert(!T.inAsyncScope());
});

Deno.test("tidyAsync() with releaseTape frees what the tape saved on branches backward skipped", async () => {
  const w = T.keep(T.tensor([0.5, -1, 2, 3], [4], { requiresGrad: true }));
  const run = (releaseTape: boolean) =>
    T.tidyAsync(async () => {
      // A branch the loss does not use, made inside an inner tidy (which already disposed it):
      // its tape node holds saved tensors that no backward releases.
      let unused!: T.Tensor;
      T.tidy(() => {
        unused = T.mul(T.exp(w), w);
      });
      const saved = [...unused.node!.ctx.saved];
      await tick();
      const loss = T.sum(T.mul(w, w));
      T.backward(loss);
      // Behind a function, so the scope does not take them for its result.
      return { made: () => ({ unused, saved }), loss: await loss.item() };
    }, { releaseTape });
  const r = await run(true);
  const { unused, saved } = r.made();
  assert(unused.disposed && saved.length > 0);
  assertEquals(unused.node, null, "tape dropped");
  assert(saved.every((t) => t.disposed), "saved tensors released");
  assertEquals(r.loss, 0.25 + 1 + 4 + 9);
  assertAllClose(await w.grad!.toArray(), [1, -2, 4, 6]);
  assert(!w.grad!.disposed && !w.disposed, "kept tensors and gradients survive");
  // Without it the saved tensors stay until the garbage collector finds the tensor.
  const r2 = (await run(false)).made();
  assert(r2.unused.node !== null && r2.saved.every((t) => !t.disposed));
  r2.unused.node!.ctx.release();
  w.grad!.dispose();
  w.dispose();
});

Deno.test("tidyAsync() refuses to start inside a synchronous tidy()", async () => {
  let started: Promise<number> | null = null;
  T.tidy(() => {
    started = T.tidyAsync(async () => {
      await tick();
      return 1;
    });
  });
  await assertRejects(() => started!, Error, "inside a synchronous tidy()");
  assert(!T.inAsyncScope());
});
