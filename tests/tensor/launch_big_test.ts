import { assert } from "../assert.ts";
import { gpu, initGpu } from "../../src/gpu/mod.ts";
import * as T from "../../src/tensor/mod.ts";

await initGpu();

Deno.test("add() over a real tensor above maxStorageBufferBindingSize matches the CPU", async () => {
  // 40M f32 = 160 MiB, above lavapipe's 128 MiB binding (and 25% above any device's limit here).
  const limit = gpu().maxBinding;
  const n = Math.max(40_000_000, Math.ceil((limit * 1.25) / 4));
  const { x, z } = T.tidy(() => {
    const x = T.arange(n); // idx of a split launch is its global index
    const y = T.mul(x, 0.5);
    return { x, z: T.add(x, y) };
  });
  const want = (i: number) => Math.fround(Math.fround(i) + Math.fround(Math.fround(i) * 0.5));
  // Strided samples, plus every element around each binding-sized boundary and the end.
  const edge = Math.floor(limit / 4);
  const ranges: [number, number][] = [[0, 4096], [edge - 2048, edge + 2048], [n - 4096, n]];
  for (let s = 0; s < n; s += 999_983) ranges.push([s, Math.min(n, s + 7)]);
  for (const [a, b] of ranges) {
    const v = T.tidy(() => T.slice(z, 0, a, b));
    const got = await v.toArray();
    v.dispose();
    for (let i = a; i < b; i++) {
      assert(got[i - a] === want(i), `z[${i}]: ours=${got[i - a]} | cpu=${want(i)}`);
    }
  }
  x.dispose();
  z.dispose();
});
