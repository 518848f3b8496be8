import { assert, assertEquals, assertRejects, assertStringIncludes } from "../assert.ts";
import {
  castTensor,
  CheckpointError,
  convertCheckpoint,
  type HostTensor,
  loadPt,
  loadSafetensors,
  openSafetensors,
  type PyDict,
  selectStateDict,
  tensorsEqual,
} from "../../src/checkpoint/mod.ts";
import { hasTorch, local, MODEL_PT, tempDir, torchCheck } from "./_helpers.ts";

const modelSd = selectStateDict(await loadPt(MODEL_PT), { keys: ["model"] });

Deno.test("convertCheckpoint() .pt -> safetensors -> .pt keeps every tensor bitwise", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    const st = `${dir}/m.safetensors`, pt = `${dir}/m.pt`;
    const a = await convertCheckpoint(MODEL_PT, st);
    assertEquals([a.inputFormat, a.outputFormat, a.tensors, a.key], [
      "pt",
      "safetensors",
      371,
      ["model"],
    ]);
    const sd = await loadSafetensors(st);
    assertEquals([...sd.keys()].sort(), [...modelSd.keys()].sort());
    for (const [k, t] of modelSd) assert(tensorsEqual(sd.get(k)!, t), k);
    const f = await openSafetensors(st);
    assertEquals(f.metadata, { format: "pt" });
    f.close();
    const b = await convertCheckpoint(st, pt);
    assertEquals(b.key, ["model"]);
    const back = await loadPt(pt) as PyDict;
    assert((back.get("model") as PyDict).ordered);
    const sd2 = selectStateDict(back, { keys: ["model"] });
    assertEquals([...sd2.keys()], [...modelSd.keys()], "file order survives");
    for (const [k, t] of modelSd) assert(tensorsEqual(sd2.get(k)!, t), k);
    if (hasTorch()) {
      // Through safetensors and back, torch.load sees the original checkpoint bitwise
      // (only the state dict's _metadata attribute is not carried by safetensors).
      const r = await torchCheck("compare", MODEL_PT, pt);
      assertEquals(r.code, 0, r.out);
    } else {
      console.log("torch not installed: skipped the torch.load comparison");
    }
  } finally {
    await cleanup();
  }
});

Deno.test("convertCheckpoint() casts floats with --dtype and keeps ints", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    const s = await convertCheckpoint(local("dtypes.pt"), `${dir}/d.safetensors`, {
      dtype: "bfloat16",
    });
    assertEquals(s.dtypes, {
      bfloat16: 4,
      int64: 1,
      int32: 1,
      int16: 1,
      int8: 1,
      uint8: 1,
      bool: 1,
    });
    const src = selectStateDict(await loadPt(local("dtypes.pt")));
    const out = await loadSafetensors(`${dir}/d.safetensors`);
    assert(tensorsEqual(out.get("float32")!, castTensor(src.get("float32")!, "bfloat16")));
    assert(tensorsEqual(out.get("int64")!, src.get("int64")!));
    assert(tensorsEqual(out.get("bfloat16")!, src.get("bfloat16")!));
  } finally {
    await cleanup();
  }
});

Deno.test("convertCheckpoint() picks the model out of a trainer checkpoint", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    const s = await convertCheckpoint(local("trainer.pt"), `${dir}/m.pt`, { key: ["model"] });
    assertEquals(s.tensors, 4);
    const back = await loadPt(`${dir}/m.pt`) as PyDict;
    assertEquals([...back.keys()], ["model"]);
    await assertRejects(
      () => convertCheckpoint(local("trainer.pt"), `${dir}/o.safetensors`, { key: ["optimizer"] }),
      CheckpointError,
      "not a tensor",
    );
    await assertRejects(
      () => convertCheckpoint(local("trainer.pt"), `${dir}/x.safetensors`, { key: ["nope"] }),
      CheckpointError,
      'No key "nope"',
    );
    await assertRejects(
      () => convertCheckpoint(local("trainer.pt"), `${dir}/x.npz`),
      CheckpointError,
      "Cannot tell the output format",
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["m.pt"]);
  } finally {
    await cleanup();
  }
});

Deno.test("convertCheckpoint() refuses to overwrite unless forced", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    const out = `${dir}/m.safetensors`;
    await Deno.writeTextFile(out, "precious");
    await assertRejects(() => convertCheckpoint(MODEL_PT, out), CheckpointError, "--force");
    assertEquals(await Deno.readTextFile(out), "precious");
    await convertCheckpoint(MODEL_PT, out, { force: true });
    assertEquals((await loadSafetensors(out)).size, 371);
  } finally {
    await cleanup();
  }
});

Deno.test("sam2 convert prints a summary and fails cleanly on an existing output", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;
    const run = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, "convert", ...args],
        env: { INIT_CWD: dir },
      }).output();
    const dec = new TextDecoder();
    const ok = await run(MODEL_PT, "half.safetensors", "--dtype", "f16");
    assertEquals(ok.code, 0, dec.decode(ok.stderr));
    assertStringIncludes(dec.decode(ok.stdout), "371 tensors (371 float16)");
    const half = await loadSafetensors(`${dir}/half.safetensors`);
    const t: HostTensor = half.get("no_mem_embed")!;
    assertEquals(t.dtype, "float16");
    const again = await run(MODEL_PT, "half.safetensors");
    assertEquals(again.code, 1);
    assertStringIncludes(dec.decode(again.stderr), "pass --force");
    const bad = await run(MODEL_PT, "x.safetensors", "--dtype", "f8");
    assert(bad.code !== 0);
    assertStringIncludes(dec.decode(bad.stderr), "f32, f16 or bf16");
  } finally {
    await cleanup();
  }
});
