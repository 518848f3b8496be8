import { assertAllClose } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import { mul, sum, type Tensor, tensor, tidy } from "../../src/tensor/mod.ts";
import {
  bceWithLogits,
  diceLoss,
  iouLoss,
  sigmoidFocalLoss,
} from "../../src/tensor/ops/mask_losses.ts";
import { bceRef, diceRef, focalRef, iouRef } from "../reference/loss.ts";
import { gap, get, loadOps, randn } from "./_torch_ops.ts";

await initGpu();

const f32 = (a: Float64Array) => new Float32Array(a);

/** Runs loss(x, t[, pred]) with upstream g, returning the loss and the gradient of `gradOf`. */
async function run(
  shape: number[],
  x: Float64Array,
  t: Float64Array,
  g: Float64Array,
  fn: (x: Tensor, t: Tensor, p: Tensor) => Tensor,
  pred?: Float64Array,
) {
  const r = tidy(() => {
    const tx = tensor(f32(x), shape, { requiresGrad: true });
    const tt = tensor(f32(t), shape);
    const rows = shape.slice(0, -2);
    const tp = tensor(f32(pred ?? new Float64Array(g.length)), rows, { requiresGrad: true });
    const loss = fn(tx, tt, tp);
    sum(mul(loss, tensor(f32(g), loss.shape))).backward();
    return { loss, gx: tx.grad, gp: tp.grad };
  });
  const arr = async (v: Tensor | null) => v ? new Float64Array(await v.toArray()) : null;
  return { loss: (await arr(r.loss))!, gx: await arr(r.gx), gp: await arr(r.gp) };
}

Deno.test("sigmoidFocalLoss() and diceLoss() match torch-ops fixtures (multimask, 2 objects)", async () => {
  for (const name of ["sigmoid_focal_loss", "dice_loss"] as const) {
    const f = loadOps(name);
    const V = "multimask";
    const fn = name === "dice_loss"
      ? (x: Tensor, t: Tensor) => diceLoss(x, t, { numObjects: 2 })
      : (x: Tensor, t: Tensor) => sigmoidFocalLoss(x, t, { numObjects: 2 });
    const r = await run(
      [2, 3, 16, 16],
      get(f, `${V}/in.inputs`).data,
      get(f, `${V}/in.targets`).data,
      get(f, `${V}/gout`).data,
      fn,
    );
    // 10x PyTorch's float32-vs-float64 gap (out ~5e-7, grad ~8e-9).
    assertAllClose(r.loss, get(f, `${V}/out_f64`).data, {
      atol: 10 * gap(f, V, "out"),
      rtol: 0,
      msg: `${name} out`,
    });
    assertAllClose(r.gx!, get(f, `${V}/grad.inputs_f64`).data, {
      atol: 10 * gap(f, V, "grad.inputs"),
      rtol: 0,
      msg: `${name} grad`,
    });
  }
});

Deno.test("iouLoss() matches torch-ops iou_loss fixture (L1 and MSE; logits get no gradient)", async () => {
  const f = loadOps("iou_loss");
  for (const V of ["l1", "mse"]) {
    const r = await run(
      [2, 3, 16, 16],
      get(f, `${V}/in.inputs`).data,
      get(f, `${V}/in.targets`).data,
      get(f, `${V}/gout`).data,
      (x, t, p) => iouLoss(x, t, p, { numObjects: 2, useL1: V === "l1" }),
      get(f, `${V}/in.pred_ious`).data,
    );
    // 10x the f32 gap, at least 1e-7 (the L1 grad gap is exactly 0).
    const tol = (n: string) => Math.max(1e-7, 10 * gap(f, V, n));
    assertAllClose(r.loss, get(f, `${V}/out_f64`).data, { atol: tol("out"), rtol: 0, msg: V });
    assertAllClose(r.gp!, get(f, `${V}/grad.pred_ious_f64`).data, {
      atol: tol("grad.pred_ious"),
      rtol: 0,
      msg: `${V} grad`,
    });
    if (r.gx !== null) throw new Error("iouLoss gave the logits a gradient");
  }
});

Deno.test("mask losses match float64 reference on odd sizes spanning several chunks", async () => {
  // 1x2x67x71 = 4757 pixels per mask > one 4096-pixel chunk; targets 0/1 and soft values.
  const shape = [1, 2, 67, 71];
  const n = 2 * 67 * 71;
  const x = randn(n, 7, 3);
  const t = randn(n, 8).map((v, i) => i % 5 === 0 ? Math.abs(v) % 1 : v > 0 ? 1 : 0);
  const g = randn(2, 9);
  const cases = [
    {
      name: "focal",
      gpu: (a: Tensor, b: Tensor) => sigmoidFocalLoss(a, b, { numObjects: 3 }),
      ref: focalRef(x, t, 2, { numObjects: 3, g }),
    },
    {
      name: "focal alpha=-1 gamma=0 (object score)",
      gpu: (a: Tensor, b: Tensor) => sigmoidFocalLoss(a, b, { numObjects: 3, alpha: -1, gamma: 0 }),
      ref: focalRef(x, t, 2, { numObjects: 3, alpha: -1, gamma: 0, g }),
    },
    {
      name: "focal gamma=1.5",
      gpu: (a: Tensor, b: Tensor) => sigmoidFocalLoss(a, b, { numObjects: 1, gamma: 1.5 }),
      ref: focalRef(x, t, 2, { numObjects: 1, gamma: 1.5, g }),
    },
    {
      name: "dice",
      gpu: (a: Tensor, b: Tensor) => diceLoss(a, b, { numObjects: 3 }),
      ref: diceRef(x, t, 2, { numObjects: 3, g }),
    },
  ];
  for (const c of cases) {
    const r = await run(shape, x, t, g, c.gpu);
    // f32 sums over ~5k pixels: 1e-6 relative.
    assertAllClose(r.loss, c.ref.loss, { atol: 1e-7, rtol: 1e-5, msg: `${c.name} loss` });
    assertAllClose(r.gx!, c.ref.dx, { atol: 1e-9, rtol: 1e-4, msg: `${c.name} grad` });
  }
  const pred = randn(2, 10).map((v) => 0.5 + 0.3 * v);
  const ri = await run(
    shape,
    x,
    t,
    g,
    (a, b, p) => iouLoss(a, b, p, { numObjects: 3, useL1: true }),
    pred,
  );
  const ref = iouRef(x, t, pred, { numObjects: 3, useL1: true, g });
  assertAllClose(ri.loss, ref.loss, { atol: 1e-6, rtol: 0, msg: "iou loss" });
  assertAllClose(ri.gp!, ref.dpred, { atol: 1e-6, rtol: 0, msg: "iou grad" });
});

Deno.test("bceWithLogits() matches float64 reference including |x| up to 100", async () => {
  const x = randn(301, 3, 4);
  x[0] = 0;
  x[1] = 100;
  x[2] = -100;
  x[3] = 20;
  x[4] = -20;
  const t = randn(301, 4).map((v) => v > 0 ? 1 : 0);
  const g = randn(301, 5);
  const r = tidy(() => {
    const tx = tensor(f32(x), [7, 43], { requiresGrad: true });
    const y = bceWithLogits(tx, tensor(f32(t), [7, 43]));
    sum(mul(y, tensor(f32(g), [7, 43]))).backward();
    return { y, gx: tx.grad! };
  });
  const ref = Array.from(x, (v, i) => bceRef(v, t[i]));
  const dref = Array.from(x, (v, i) => g[i] * (1 / (1 + Math.exp(-v)) - t[i]));
  assertAllClose(await r.y.toArray(), ref, { atol: 1e-6, rtol: 1e-6, msg: "bce" });
  assertAllClose(await r.gx.toArray(), dref, { atol: 1e-6, rtol: 1e-5, msg: "bce grad" });
});
