import { assert, assertAllClose, assertEquals, assertThrows } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import { Linear, Module, StateDictError } from "../../src/nn/mod.ts";
import { manualSeed, type Tensor, tensor, zeros } from "../../src/tensor/mod.ts";

await initGpu();

class Block extends Module {
  readonly qkv = this.module("qkv", new Linear(4, 12));
  readonly proj = this.module("proj", new Linear(4, 4, { bias: false }));
  readonly scale = this.param("scale", zeros([4]));
  readonly mask = this.buffer("mask", zeros([2]));
}

class Net extends Module {
  readonly blocks = [0, 1].map((i) => this.module(`blocks.${i}`, new Block()));
  readonly head = this.module("head", new Linear(4, 2));
}

Deno.test("stateDict() keys equal PyTorch's (params, buffers, children, lists)", () => {
  const net = new Net();
  assertEquals([...net.stateDict().keys()], [
    "blocks.0.scale",
    "blocks.0.mask",
    "blocks.0.qkv.weight",
    "blocks.0.qkv.bias",
    "blocks.0.proj.weight",
    "blocks.1.scale",
    "blocks.1.mask",
    "blocks.1.qkv.weight",
    "blocks.1.qkv.bias",
    "blocks.1.proj.weight",
    "head.weight",
    "head.bias",
  ]);
  assertEquals(net.namedParameters().length, 10);
  assert(net.parameters().every((p) => p.requiresGrad));
  net.dispose();
});

Deno.test("loadStateDict() reports missing, unexpected and mismatched keys by name", async () => {
  const lin = new Linear(3, 2);
  const err = assertThrows(
    () =>
      lin.loadStateDict({
        weight: { shape: [2, 4], data: new Float32Array(8) },
        extra: zeros([1]),
      }),
    StateDictError,
  ) as StateDictError;
  assertEquals(err.report.missing, ["bias"]);
  assertEquals(err.report.unexpected, ["extra"]);
  assertEquals(err.report.mismatched, ["weight: [2, 3] vs [2, 4]"]);
  const rep = lin.loadStateDict({ weight: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] } }, {
    strict: false,
  });
  assertEquals(rep.missing, ["bias"]);
  assertAllClose(await lin.weight.toArray(), [1, 2, 3, 4, 5, 6]);
  lin.loadStateDict({ weight: tensor([6, 5, 4, 3, 2, 1], [2, 3]), bias: tensor([1, 1]) });
  assertAllClose(await lin.weight.toArray(), [6, 5, 4, 3, 2, 1]);
  lin.dispose();
});

Deno.test("Linear init is PyTorch's default (bounds 1/sqrt(fan_in)) and seeded", async () => {
  manualSeed(7);
  const a = new Linear(16, 8);
  manualSeed(7);
  const b = new Linear(16, 8);
  const wa = await a.weight.toArray(), wb = await b.weight.toArray();
  assertEquals(Array.from(wa), Array.from(wb));
  assert(wa.every((v) => Math.abs(v) <= 0.25), "weight within 1/sqrt(16)");
  assert(Math.max(...wa) > 0.15 && Math.min(...wa) < -0.15, "weight spans the range");
  const bias = await (a.bias as Tensor).toArray();
  assert(bias.every((v) => Math.abs(v) <= 0.25));
  a.dispose();
  b.dispose();
});

Deno.test("train()/eval() and requiresGrad(false) propagate to children", () => {
  const net = new Net();
  net.eval();
  assert(net.namedModules().every(([, m]) => !m.training));
  net.train();
  assert(net.blocks[1].qkv.training);
  net.requiresGrad(false);
  assert(net.parameters().every((p) => !p.requiresGrad));
  net.dispose();
});

Deno.test("loadStateDict() takes checkpoint bytes (float32, float16, bfloat16)", async () => {
  const lin = new Linear(2, 1);
  const f32 = new Uint8Array(new Float32Array([1.5, -2]).buffer);
  const bf16 = new Uint8Array(new Uint16Array([0x3f80]).buffer); // 1.0
  lin.loadStateDict({
    weight: { dtype: "float32", shape: [1, 2], data: f32 },
    bias: { dtype: "bfloat16", shape: [1], data: bf16 },
  });
  assertAllClose(await lin.weight.toArray(), [1.5, -2]);
  assertAllClose(await lin.bias!.toArray(), [1]);
  const h = new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer); // 1, -2
  lin.loadStateDict({ weight: { dtype: "float16", shape: [1, 2], data: h } }, { strict: false });
  assertAllClose(await lin.weight.toArray(), [1, -2]);
  lin.dispose();
});
