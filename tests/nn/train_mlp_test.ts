import { assert, assertAllClose } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import { MLP } from "../../src/nn/mod.ts";
import * as T from "../../src/tensor/mod.ts";
import { sgdTrain } from "./_sgd_loop.ts";

await initGpu();

/** Same model in float64 on the CPU: x -> relu(x W0^T + b0) W1^T + b1, MSE, plain SGD. */
function cpuTrain(
  params: Float64Array[],
  x: Float64Array,
  y: Float64Array,
  dims: [number, number, number, number],
  steps: number,
  lr: number,
): number[] {
  const [n, din, dh, dout] = dims;
  const [w0, b0, w1, b1] = params;
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const h = new Float64Array(n * dh),
      a = new Float64Array(n * dh),
      o = new Float64Array(n * dout);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dh; j++) {
        let v = b0[j];
        for (let k = 0; k < din; k++) v += x[i * din + k] * w0[j * din + k];
        h[i * dh + j] = v;
        a[i * dh + j] = Math.max(v, 0);
      }
      for (let j = 0; j < dout; j++) {
        let v = b1[j];
        for (let k = 0; k < dh; k++) v += a[i * dh + k] * w1[j * dh + k];
        o[i * dout + j] = v;
      }
    }
    let loss = 0;
    const go = new Float64Array(n * dout);
    for (let i = 0; i < n * dout; i++) {
      loss += (o[i] - y[i]) ** 2;
      go[i] = 2 * (o[i] - y[i]) / (n * dout);
    }
    losses.push(loss / (n * dout));
    const gw1 = new Float64Array(w1.length), gb1 = new Float64Array(b1.length);
    const gw0 = new Float64Array(w0.length), gb0 = new Float64Array(b0.length);
    const ga = new Float64Array(n * dh);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dout; j++) {
        const g = go[i * dout + j];
        gb1[j] += g;
        for (let k = 0; k < dh; k++) {
          gw1[j * dh + k] += g * a[i * dh + k];
          ga[i * dh + k] += g * w1[j * dh + k];
        }
      }
      for (let k = 0; k < dh; k++) {
        const g = h[i * dh + k] > 0 ? ga[i * dh + k] : 0;
        gb0[k] += g;
        for (let q = 0; q < din; q++) gw0[k * din + q] += g * x[i * din + q];
      }
    }
    [[w0, gw0], [b0, gb0], [w1, gw1], [b1, gb1]].forEach(([p, g]) => {
      for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
    });
  }
  return losses;
}

Deno.test("a 2-layer MLP trained with SGD follows the float64 CPU loss curve; pool stays flat", async () => {
  T.manualSeed(2024);
  const [n, din, dh, dout] = [16, 5, 12, 3];
  const model = new MLP(din, dh, dout, 2);
  const xs = T.philoxNormal(n * din, 77);
  const ys = T.philoxUniform(n * dout, 78).map((v) => 2 * v - 1);
  const x = T.keep(T.tensor(xs, [n, din]));
  const y = T.keep(T.tensor(ys, [n, dout]));
  const params = await Promise.all(
    model.parameters().map(async (p) => Float64Array.from(await p.toArray())),
  );
  const steps = 200, lr = 0.2;
  const ours = await sgdTrain(
    model.parameters(),
    () => T.mean(T.square(T.sub(model.forward(x), y))),
    steps,
    lr,
  );
  const ref = cpuTrain(
    params,
    Float64Array.from(xs),
    Float64Array.from(ys),
    [n, din, dh, dout],
    steps,
    lr,
  );
  assert(ours[steps - 1] < 0.5 * ours[0], `loss fell: ${ours[0]} -> ${ours[steps - 1]}`);
  assertAllClose(ours, ref, { atol: 1e-5, rtol: 2e-4, msg: "loss curve" });
  model.dispose();
});
