import { assert, assertAllClose } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import { Conv2d, Linear } from "../../src/nn/mod.ts";
import * as T from "../../src/tensor/mod.ts";
import {
  conv2dBackwardRef,
  conv2dRef,
  type ConvGeometry,
  type RefTensor,
} from "../reference/conv.ts";
import { sgdTrain } from "./_sgd_loop.ts";

await initGpu();

// conv 3x3 (2 -> 4, pad 1) -> relu -> depthwise 3x3 (stride 2, pad 1) -> relu -> mean over H, W
// -> linear (4 -> 3) -> MSE; plain SGD. Dense, depthwise and strided conv kernels all train.
const DENSE: ConvGeometry = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
const DEPTHWISE: ConvGeometry = { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 4 };

interface CpuParams {
  w1: RefTensor;
  b1: Float64Array;
  w2: RefTensor;
  b2: Float64Array;
  wl: Float64Array; // [3, 4]
  bl: Float64Array;
}

const relu = (t: RefTensor): RefTensor => ({
  data: t.data.map((v) => Math.max(v, 0)),
  shape: t.shape,
});
const reluGrad = (g: RefTensor, pre: RefTensor): RefTensor => ({
  data: g.data.map((v, i) => pre.data[i] > 0 ? v : 0),
  shape: g.shape,
});

/** The same network in float64 on the CPU; returns the loss of every step. */
function cpuTrain(
  p: CpuParams,
  x: RefTensor,
  y: Float64Array,
  steps: number,
  lr: number,
): number[] {
  const losses: number[] = [];
  const [n] = x.shape, c = 4, k = 3;
  for (let s = 0; s < steps; s++) {
    const h1 = conv2dRef(x, p.w1, p.b1, DENSE), a1 = relu(h1);
    const h2 = conv2dRef(a1, p.w2, p.b2, DEPTHWISE), a2 = relu(h2);
    const hw = a2.shape[2] * a2.shape[3];
    const pooled = new Float64Array(n * c);
    for (let i = 0; i < n * c; i++) {
      for (let j = 0; j < hw; j++) pooled[i] += a2.data[i * hw + j] / hw;
    }
    const out = new Float64Array(n * k), gout = new Float64Array(n * k);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < k; o++) {
        let v = p.bl[o];
        for (let q = 0; q < c; q++) v += pooled[i * c + q] * p.wl[o * c + q];
        out[i * k + o] = v;
        loss += (v - y[i * k + o]) ** 2;
        gout[i * k + o] = 2 * (v - y[i * k + o]) / (n * k);
      }
    }
    losses.push(loss / (n * k));
    const gwl = new Float64Array(p.wl.length), gbl = new Float64Array(k);
    const gpooled = new Float64Array(n * c);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < k; o++) {
        const g = gout[i * k + o];
        gbl[o] += g;
        for (let q = 0; q < c; q++) {
          gwl[o * c + q] += g * pooled[i * c + q];
          gpooled[i * c + q] += g * p.wl[o * c + q];
        }
      }
    }
    const ga2 = new Float64Array(a2.data.length);
    for (let i = 0; i < n * c; i++) for (let j = 0; j < hw; j++) ga2[i * hw + j] = gpooled[i] / hw;
    const gh2 = reluGrad({ data: ga2, shape: a2.shape }, h2);
    const b2 = conv2dBackwardRef(a1, p.w2, gh2, DEPTHWISE);
    const gh1 = reluGrad(b2.gx, h1);
    const b1 = conv2dBackwardRef(x, p.w1, gh1, DENSE);
    const sgd = (w: Float64Array, g: Float64Array) => w.forEach((v, i) => w[i] = v - lr * g[i]);
    sgd(p.w1.data, b1.gw.data);
    sgd(p.b1, b1.gb);
    sgd(p.w2.data, b2.gw.data);
    sgd(p.b2, b2.gb);
    sgd(p.wl, gwl);
    sgd(p.bl, gbl);
  }
  return losses;
}

Deno.test("a small conv net trained with SGD follows the float64 CPU loss curve; pool stays flat", async () => {
  T.manualSeed(7);
  const [n, h, w] = [3, 9, 10]; // odd sizes: no tile divides them
  const conv1 = new Conv2d(2, 4, 3, { padding: 1 });
  const conv2 = new Conv2d(4, 4, 3, { padding: 1, stride: 2, groups: 4 });
  const head = new Linear(4, 3);
  const params = [conv1.weight, conv1.bias!, conv2.weight, conv2.bias!, head.weight, head.bias!];
  const xs = T.philoxNormal(n * 2 * h * w, 11);
  const ys = T.philoxUniform(n * 3, 12).map((v) => 2 * v - 1);
  const x = T.keep(T.tensor(xs, [n, 2, h, w]));
  const y = T.keep(T.tensor(ys, [n, 3]));
  const host = await Promise.all(params.map(async (p) => Float64Array.from(await p.toArray())));
  const steps = 200, lr = 0.5;
  const ours = await sgdTrain(
    params,
    () => {
      const a1 = T.relu(conv1.forward(x));
      const a2 = T.relu(conv2.forward(a1));
      const out = head.forward(T.mean(a2, [2, 3]));
      return T.mean(T.square(T.sub(out, y)));
    },
    steps,
    lr,
  );
  const ref = cpuTrain(
    {
      w1: { data: host[0], shape: [4, 2, 3, 3] },
      b1: host[1],
      w2: { data: host[2], shape: [4, 1, 3, 3] },
      b2: host[3],
      wl: host[4],
      bl: host[5],
    },
    { data: Float64Array.from(xs), shape: [n, 2, h, w] },
    Float64Array.from(ys),
    steps,
    lr,
  );
  assert(ours[steps - 1] < 0.5 * ours[0], `loss fell: ${ours[0]} -> ${ours[steps - 1]}`);
  assertAllClose(ours, ref, { atol: 1e-5, rtol: 5e-4, msg: "loss curve" });
  for (const t of [x, y]) t.dispose();
  for (const m of [conv1, conv2, head]) m.dispose();
});
