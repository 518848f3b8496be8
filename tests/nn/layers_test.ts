import { assertAllClose, assertEquals } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import {
  Activation,
  Dropout,
  Embedding,
  Identity,
  LayerNorm,
  Linear,
  MLP,
  Sequential,
} from "../../src/nn/mod.ts";
import * as T from "../../src/tensor/mod.ts";

await initGpu();

Deno.test("MLP has SAM's keys and applies the activation between layers only", async () => {
  const mlp = new MLP(4, 8, 3, 3, { sigmoidOutput: true });
  assertEquals([...mlp.stateDict().keys()], [
    "layers.0.weight",
    "layers.0.bias",
    "layers.1.weight",
    "layers.1.bias",
    "layers.2.weight",
    "layers.2.bias",
  ]);
  const x = T.tensor([0.1, 0.2, -0.3, 0.4, 1, 0, -1, 0.5], [2, 4]);
  const [l0, l1, l2] = [...mlp.layers];
  const ref = T.sigmoid(l2.forward(T.relu(l1.forward(T.relu(l0.forward(x))))));
  assertAllClose(await mlp.forward(x).toArray(), await ref.toArray());
  mlp.dispose();
});

Deno.test("LayerNorm/Sequential/Identity/Dropout/Embedding behave like torch.nn", async () => {
  const seq = new Sequential([
    new Linear(3, 3),
    new Activation("gelu"),
    new Identity(),
    new LayerNorm(3),
  ]);
  assertEquals([...seq.stateDict().keys()], ["0.weight", "0.bias", "3.weight", "3.bias"]);
  const y = await seq.forward(T.tensor([1, 2, 3, -1, 0, 1], [2, 3])).toArray();
  for (const r of [0, 1]) {
    const row = Array.from(y.slice(3 * r, 3 * r + 3));
    assertAllClose([row.reduce((a, b) => a + b, 0)], [0], { atol: 1e-5 });
  }
  const d = new Dropout(0.5);
  d.eval();
  const x = T.ones([10]);
  assertEquals(d.forward(x), x);
  const emb = new Embedding(5, 2);
  const idx = T.tensor([4, 0, 4], [3], { dtype: "i32" });
  const w = await emb.weight.toArray();
  assertAllClose(await emb.forward(idx).toArray(), [w[8], w[9], w[0], w[1], w[8], w[9]]);
  seq.dispose();
});
