/**
 * nn.Conv2d / nn.ConvTranspose2d / nn.LayerNorm2d: PyTorch's state-dict keys and shapes, default
 * init bounds, and that forward equals the functional op on the same parameters (SAM 2 shapes).
 */
import { assert, assertAllClose, assertEquals, assertThrows } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import { Conv2d } from "../../src/nn/conv2d.ts";
import { ConvTranspose2d } from "../../src/nn/conv_transpose2d.ts";
import { LayerNorm2d } from "../../src/nn/layer_norm2d.ts";
import * as T from "../../src/tensor/mod.ts";
import { conv2dRef, convTranspose2dRef } from "../reference/conv.ts";
import { randomF32 } from "../kernels/_spatial_fixtures.ts";

await initGpu();

async function maxAbs(t: T.Tensor): Promise<number> {
  return Math.max(...[...(await t.toArray())].map(Math.abs));
}

Deno.test("Conv2d has PyTorch's keys, shapes and init bounds; depthwise and no-bias variants", async () => {
  const patch = new Conv2d(3, 8, 7, { stride: 4, padding: 3 });
  assertEquals(patch.namedParameters().map(([k, t]) => [k, [...t.shape]]), [
    ["weight", [8, 3, 7, 7]],
    ["bias", [8]],
  ]);
  const bound = 1 / Math.sqrt(3 * 49);
  assert(await maxAbs(patch.weight) <= bound, "weight within U(+-1/sqrt(fan_in))");
  assert(await maxAbs(patch.bias!) <= bound, "bias within U(+-1/sqrt(fan_in))");
  const dw = new Conv2d(6, 6, 7, { padding: 3, groups: 6 });
  assertEquals([...dw.weight.shape], [6, 1, 7, 7]);
  assert(await maxAbs(dw.weight) <= 1 / 7, "depthwise fan_in = 49");
  const nb = new Conv2d(4, 2, 1, { bias: false });
  assertEquals(nb.namedParameters().map(([k]) => k), ["weight"]);
  assertThrows(() => new Conv2d(5, 6, 3, { groups: 2 }), RangeError, "divisible");
});

Deno.test("Conv2d.forward() equals the float64 conv on its own parameters (SAM 2 shapes)", async () => {
  const layers: [Conv2d, number[]][] = [
    [new Conv2d(3, 8, 7, { stride: 4, padding: 3 }), [1, 3, 17, 19]], // patch embed
    [new Conv2d(4, 16, 3, { stride: 2, padding: 1 }), [1, 4, 9, 9]], // MaskDownSampler
    [new Conv2d(1, 4, 2, { stride: 2 }), [1, 1, 8, 8]], // prompt mask 1->4
    [new Conv2d(1, 1, 4, { stride: 4 }), [1, 1, 12, 8]], // mask_downsample
    [new Conv2d(8, 8, 7, { padding: 3, groups: 8 }), [2, 8, 6, 5]], // CXBlock dwconv
    [new Conv2d(8, 4, 1), [2, 8, 3, 3]], // 1x1 projections
  ];
  for (const [i, [m, shape]] of layers.entries()) {
    const x = { data: randomF32(shape.reduce((a, b) => a * b), 200 + i), shape };
    const y = T.tidy(() => m.forward(T.tensor(Float32Array.from(x.data), shape)));
    const w = { data: Float64Array.from(await m.weight.toArray()), shape: [...m.weight.shape] };
    const b = Float64Array.from(await m.bias!.toArray());
    const [, , kh] = w.shape;
    const cfg = [
      { stride: 4, padding: 3, groups: 1 },
      { stride: 2, padding: 1, groups: 1 },
      { stride: 2, padding: 0, groups: 1 },
      { stride: 4, padding: 0, groups: 1 },
      { stride: 1, padding: 3, groups: 8 },
      { stride: 1, padding: 0, groups: 1 },
    ][i];
    const ref = conv2dRef(x, w, b, {
      stride: [cfg.stride, cfg.stride],
      padding: [cfg.padding, cfg.padding],
      dilation: [1, 1],
      groups: cfg.groups,
    });
    assertEquals([...y.shape], ref.shape, `layer ${i} (k${kh})`);
    assertAllClose(await y.toArray(), ref.data, { atol: 2e-5, rtol: 1e-5, msg: `layer ${i}` });
    y.dispose();
  }
});

Deno.test("ConvTranspose2d has PyTorch's layout and init, and upsamples 2x like SAM 2's decoder", async () => {
  const up = new ConvTranspose2d(8, 4, 2, { stride: 2 });
  assertEquals(up.namedParameters().map(([k, t]) => [k, [...t.shape]]), [
    ["weight", [8, 4, 2, 2]],
    ["bias", [4]],
  ]);
  const bound = 1 / Math.sqrt(4 * 4); // fan_in from dim 1: out * kH * kW
  assert(await maxAbs(up.weight) <= bound && await maxAbs(up.bias!) <= bound, "init bounds");
  const x = { data: randomF32(2 * 8 * 3 * 5, 300), shape: [2, 8, 3, 5] };
  const y = T.tidy(() => up.forward(T.tensor(Float32Array.from(x.data), x.shape)));
  const ref = convTranspose2dRef(
    x,
    { data: Float64Array.from(await up.weight.toArray()), shape: [8, 4, 2, 2] },
    Float64Array.from(await up.bias!.toArray()),
    { stride: [2, 2], padding: [0, 0], dilation: [1, 1], outputPadding: [0, 0], groups: 1 },
  );
  assertEquals([...y.shape], [2, 4, 6, 10]);
  assertAllClose(await y.toArray(), ref.data, { atol: 2e-5, rtol: 1e-5 });
  y.dispose();
});

Deno.test("LayerNorm2d layer after a Conv2d trains: gradients reach every parameter", async () => {
  const conv = new Conv2d(2, 4, 3, { padding: 1 });
  const norm = new LayerNorm2d(4);
  const x = { data: randomF32(2 * 5 * 5, 400), shape: [1, 2, 5, 5] };
  const loss = T.tidy(() => {
    const y = norm.forward(conv.forward(T.tensor(Float32Array.from(x.data), x.shape)));
    return T.sum(T.mul(y, y));
  });
  loss.backward();
  for (const [k, p] of [...conv.namedParameters(), ...norm.namedParameters()]) {
    assert(p.grad !== null, `${k} has a gradient`);
    assertEquals([...p.grad!.shape], [...p.shape], k);
  }
  // sum(y^2) of a layer norm with weight 1, bias 0 is C per pixel: d/dweight = 2*sum(xhat^2).
  const wgrad = await norm.weight.grad!.toArray();
  assertAllClose([[...wgrad].reduce((a, b) => a + b, 0)], [2 * 4 * 25], { atol: 1e-3, rtol: 1e-4 });
  loss.dispose();
});
