import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import {
  applyCheckpointKernels,
  CheckpointError,
  detectFormat,
  float32Tensor,
  fnmatch,
  loadModelWeights,
  loadPt,
  readCheckpoint,
  saveSafetensors,
  selectStateDict,
  type StateDict,
  validateStateDict,
} from "../../src/checkpoint/mod.ts";
import { local, MODEL_PT, SHARED, tempDir } from "./_helpers.ts";

const miniKeys: [string, number[], number][] = JSON.parse(
  await Deno.readTextFile(new URL("sam2-mini/keys/mini.json", SHARED)),
).keys;
const target = new Map(miniKeys.map(([k, s]) => [k, s] as [string, number[]]));

Deno.test("fnmatch() follows Python's fnmatchcase", () => {
  assert(fnmatch("image_encoder.trunk.blocks.0.attn.qkv.weight", "image_encoder.*"));
  assert(fnmatch("a.b.c", "*.c"));
  assert(fnmatch("a1", "a?"));
  assert(!fnmatch("a12", "a?"));
  assert(fnmatch("layer3", "layer[0-4]"));
  assert(!fnmatch("layer3", "layer[!0-4]"));
  assert(fnmatch("x[", "x["));
  assert(fnmatch("a+b(c)", "a+b(c)"));
  assert(!fnmatch("A", "a"));
});

Deno.test("selectStateDict() walks ckpt_state_dict_keys and names the keys it found", async () => {
  const ckpt = await loadPt(local("trainer.pt"));
  const sd = selectStateDict(ckpt, { keys: ["model"] });
  assertEquals([...sd.keys()], ["0.weight", "0.bias", "1.weight", "1.bias"]);
  const e = assertThrows(() => selectStateDict(ckpt, { keys: ["state_dict"] }), CheckpointError);
  assert(
    e.message.includes('Key "state_dict" not found') && e.message.includes('"model"'),
    e.message,
  );
  assertThrows(() => selectStateDict(ckpt), CheckpointError, "not a state dict");
  assertThrows(() => selectStateDict(ckpt, { keys: ["epoch"] }), CheckpointError, "not a dict");
});

Deno.test("applyCheckpointKernels() includes/excludes by glob, in order, like the reference", () => {
  const sd: StateDict = new Map([
    ["image_encoder.trunk.w", float32Tensor([1], [1])],
    ["image_encoder.neck.w", float32Tensor([1], [2])],
    ["sam_mask_decoder.w", float32Tensor([1], [3])],
  ]);
  const inc = applyCheckpointKernels(sd, [{ include: ["image_encoder.*"] }]);
  assertEquals([...inc.keys()], ["image_encoder.trunk.w", "image_encoder.neck.w"]);
  const both = applyCheckpointKernels(sd, [{ include: ["image_encoder.*"] }, {
    exclude: ["*.neck.*"],
  }]);
  assertEquals([...both.keys()], ["image_encoder.trunk.w"]);
  assertEquals(applyCheckpointKernels(sd, [{ exclude: [] }]).size, 3);
  assertThrows(
    () => applyCheckpointKernels(sd, [{ exclude: ["mask_decoder.*"] }]),
    CheckpointError,
    '"mask_decoder.*" matches no key',
  );
});

Deno.test("validateStateDict() lists missing, unexpected and mis-shaped keys by name", () => {
  const sd: StateDict = new Map([
    ["a", float32Tensor([2], [1, 2])],
    ["b", float32Tensor([3], [1, 2, 3])],
    ["extra", float32Tensor([1], [0])],
  ]);
  const t = new Map<string, number[]>([["a", [2]], ["b", [1, 3]], ["c", [4]]]);
  const e = assertThrows(() => validateStateDict(sd, t), CheckpointError);
  assert(e.message.includes('Unexpected keys (1): "extra"'), e.message);
  assert(e.message.includes('"b" is [3] in the checkpoint, the model wants [1,3]'), e.message);
  assert(e.message.includes('Missing keys (1): "c"'), e.message);
  // Non-strict: missing is fine, unexpected still fails (reference semantics).
  assertThrows(
    () => validateStateDict(sd, new Map([["a", [2]], ["c", [1]]]), { strict: false }),
    CheckpointError,
    "Unexpected",
  );
  const r = validateStateDict(sd, new Map([["a", [2]], ["c", [1]]]), {
    strict: false,
    ignoreUnexpected: ["b", "ex*"],
  });
  assertEquals([...r.stateDict.keys()], ["a"]);
  assertEquals(r.missing, ["c"]);
  const r2 = validateStateDict(sd, new Map([["a", [2]], ["c", [1]]]), {
    ignoreMissing: ["c"],
    ignoreUnexpected: ["*"],
  });
  assertEquals(r2.ignoredMissing, ["c"]);
});

Deno.test("loadModelWeights() loads sam2-mini strictly and reports a wrong target", async () => {
  const r = await loadModelWeights(MODEL_PT, target);
  assertEquals(r.stateDict.size, 371);
  assertEquals([...r.stateDict.keys()], miniKeys.map((k) => k[0]));
  const partial = new Map(target);
  partial.delete("no_mem_embed");
  partial.set("no_mem_pos_enc", [1, 64]);
  partial.set("new_head.weight", [3]);
  const e = await assertRejects(() => loadModelWeights(MODEL_PT, partial), CheckpointError);
  for (const part of ['"no_mem_embed"', '"no_mem_pos_enc" is [1,1,64]', '"new_head.weight"']) {
    assert(e.message.includes(part), `${e.message.slice(0, 300)} lacks ${part}`);
  }
  assert(e.message.includes("model.pt"), "names the file");
  // Fine-tuning a new head: exclude the old decoder, accept it missing.
  const dec = miniKeys.filter((k) => k[0].startsWith("sam_mask_decoder.")).length;
  const r2 = await loadModelWeights(MODEL_PT, target, {
    kernels: [{ exclude: ["sam_mask_decoder.*"] }],
    strict: false,
  });
  assertEquals(r2.missing.length, dec);
  assertEquals(r2.stateDict.size, 371 - dec);
});

Deno.test("readCheckpoint() tells .pt from safetensors by content, not extension", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    await saveSafetensors(`${dir}/weights.pt`, { w: float32Tensor([2], [1, 2]) });
    assertEquals(await detectFormat(`${dir}/weights.pt`), "safetensors");
    const c = await readCheckpoint(`${dir}/weights.pt`);
    assertEquals(c.format, "safetensors");
    assertEquals(selectStateDict(c.root).size, 1);
    const p = await readCheckpoint(MODEL_PT, { path: ["model"] });
    assertEquals(p.format, "pt");
    assertEquals(selectStateDict(p.root).size, 371);
    await Deno.writeTextFile(`${dir}/notes.txt`, "hello world, not a checkpoint");
    await assertRejects(
      () => readCheckpoint(`${dir}/notes.txt`),
      CheckpointError,
      "Not a checkpoint",
    );
  } finally {
    await cleanup();
  }
});
