/**
 * The spatial ops leave nothing behind: after a forward + backward step of conv2d (row, depthwise,
 * general and patchify paths), conv_transpose2d, max_pool2d, interpolate and layerNorm2d, the
 * pool's live bytes return to what they were (only the parameter gradients stay), and a second
 * identical step does not raise the high-water mark.
 */
import { assertEquals } from "../assert.ts";
import { gpu, initGpu } from "../../src/gpu/mod.ts";
import * as T from "../../src/tensor/mod.ts";
import { accountedLiveBytes } from "../tensor/_util.ts";
import { randomF32 } from "./_spatial_fixtures.ts";

await initGpu();

Deno.test("spatial ops: a training step leaks no GPU memory and the high-water mark is stable", async () => {
  const t = (shape: number[], seed: number) =>
    T.keep(T.tensor(Float32Array.from(randomF32(shape.reduce((a, b) => a * b), seed)), shape, {
      requiresGrad: true,
    }));
  const x = t([2, 4, 9, 8], 1);
  const w3 = t([8, 4, 3, 3], 2), b3 = t([8], 3);
  const wdw = t([8, 1, 7, 7], 4);
  const ws2 = t([8, 8, 3, 3], 5);
  const wt = t([8, 4, 2, 2], 6), bt = t([4], 7);
  const ln = [t([4], 8), t([4], 9)];
  const params = [x, w3, b3, wdw, ws2, wt, bt, ...ln];
  const step = () => {
    const loss = T.tidy(() => {
      let y = T.conv2d(x, w3, b3, { padding: 1 }); // row kernel
      y = T.conv2d(y, wdw, null, { padding: 3, groups: 8 }); // depthwise
      y = T.conv2d(y, ws2, null, { stride: 2, padding: 1 }); // general gather
      y = T.maxPool2d(y, { kernelSize: 2, stride: 1 });
      y = T.convTranspose2d(y, wt, bt, { stride: 2 }); // patchify (matmul)
      y = T.layerNorm2d(y, ln[0], ln[1]);
      y = T.interpolate(y, { size: [11, 7], mode: "bicubic" });
      return T.sum(T.mul(y, y));
    });
    loss.backward();
    loss.dispose();
    for (const p of params) {
      p.grad?.dispose();
      p.grad = null;
    }
  };
  step();
  await gpu().sync();
  const before = accountedLiveBytes();
  gpu().pool.resetPeak();
  step();
  await gpu().sync();
  const peak1 = gpu().pool.stats().peakBytes;
  assertEquals(accountedLiveBytes(), before, "live bytes after a step");
  step();
  await gpu().sync();
  assertEquals(gpu().pool.stats().peakBytes, peak1, "high-water mark of a second step");
  assertEquals(accountedLiveBytes(), before, "live bytes after two steps");
  params.forEach((p) => p.dispose());
});
