import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  CheckpointError,
  type HostTensor,
  hostTensor,
  loadSafetensors,
  MemorySource,
  openSafetensors,
  saveSafetensors,
  saveSafetensorsBytes,
  tensorsEqual,
  toFloat32,
} from "../../src/checkpoint/mod.ts";
import { SHARED, tempDir } from "./_helpers.ts";

const IMAGE_ENCODER = new URL("sam2-mini/image_encoder.safetensors", SHARED).pathname;
const TRAIN_STEP = new URL("sam2-mini/train_step.safetensors", SHARED).pathname;

Deno.test("loadSafetensors() reads the fixture's F32/I32/U8 tensors in file order", async () => {
  const sd = await loadSafetensors(IMAGE_ENCODER);
  assertEquals(sd.size, 26);
  assertEquals([...sd.keys()][0], "input.image");
  assertEquals(sd.get("input.image")!.shape, [2, 3, 128, 128]);
  assertEquals(sd.get("vision_features")!.shape, [2, 64, 8, 8]);
  const ts = await openSafetensors(TRAIN_STEP);
  try {
    assertEquals(ts.entries.get("input.masks")!.dtype, "uint8");
    assertEquals(ts.entries.get("input.obj_to_frame_idx")!.dtype, "int32");
    assertEquals(ts.entries.get("loss.core_loss")!.shape, []);
    const loss = await ts.read("loss.core_loss");
    assert(Number.isFinite(toFloat32(loss)[0]));
  } finally {
    ts.close();
  }
});

Deno.test("saveSafetensors() rewrites the fixture byte for byte", async () => {
  const original = await Deno.readFile(IMAGE_ENCODER);
  const sd = await loadSafetensors(IMAGE_ENCODER);
  const ours = await saveSafetensorsBytes(sd);
  assertEquals(ours.length, original.length);
  assert(ours.every((b, i) => b === original[i]), "identical bytes");
});

Deno.test("saveSafetensors() round-trips every dtype and metadata", async () => {
  const tensors = new Map<string, HostTensor>([
    ["f32", hostTensor("float32", [2], new Float32Array([1.5, -2]))],
    ["f16", hostTensor("float16", [1], new Uint16Array([0x3c00]))],
    ["bf16", hostTensor("bfloat16", [1], new Uint16Array([0x3f80]))],
    ["f64", hostTensor("float64", [1], new Float64Array([Math.PI]))],
    ["i64", hostTensor("int64", [1], new BigInt64Array([-5n]))],
    ["i32", hostTensor("int32", [1], new Int32Array([7]))],
    ["i16", hostTensor("int16", [1], new Int16Array([-3]))],
    ["i8", hostTensor("int8", [1], new Int8Array([-1]))],
    ["u8", hostTensor("uint8", [3], new Uint8Array([1, 2, 3]))],
    ["b", hostTensor("bool", [2], new Uint8Array([1, 0]))],
    ["empty", hostTensor("float32", [0, 4], new Float32Array(0))],
    ["scalar", hostTensor("float32", [], new Float32Array([3]))],
  ]);
  const bytes = await saveSafetensorsBytes(tensors, { metadata: { format: "pt" } });
  assertEquals(new DataView(bytes.buffer).getBigUint64(0, true) % 8n, 0n);
  const f = await openSafetensors(new MemorySource(bytes));
  assertEquals(f.metadata, { format: "pt" });
  for (const [k, t] of tensors) assert(tensorsEqual(await f.read(k), t), k);
});

function withHeader(header: unknown, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("openSafetensors() rejects bad headers with the tensor name and offset", async () => {
  const bad = async (bytes: Uint8Array, part: string) => {
    const e = await assertRejects(
      () => openSafetensors(new MemorySource(bytes, "x.st")),
      CheckpointError,
    );
    assert(e.message.includes(part), `${e.message} should include ${part}`);
    assert(e.message.includes("x.st"), e.message);
  };
  await bad(new Uint8Array(5), "too small");
  await bad(withHeader({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }), "truncated");
  await bad(
    withHeader({ a: { dtype: "C64", shape: [1], data_offsets: [0, 8] } }),
    '"a": unsupported dtype',
  );
  await bad(
    withHeader({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
    "shape needs 12",
  );
  await bad(
    withHeader({
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
    }, new Uint8Array(8)),
    "overlap",
  );
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 62n, true);
  await bad(huge, "larger than 100 MB");
  const notJson = withHeader({});
  notJson[8] = 0x7b;
  notJson[9] = 0x7b;
  await bad(notJson, "not valid JSON");
});

Deno.test("saveSafetensors() is atomic and can refuse to overwrite", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    const path = `${dir}/a.safetensors`;
    await saveSafetensors(path, { x: hostTensor("float32", [1], new Float32Array([1])) });
    await assertRejects(() =>
      saveSafetensors(path, { x: hostTensor("float32", [1], new Float32Array([2])) }, {
        overwrite: false,
      })
    );
    const broken = {
      dtype: "float32" as const,
      shape: [4],
      load: () => Promise.resolve(hostTensor("float32", [1], new Float32Array([0]))),
    };
    await assertRejects(() => saveSafetensors(path, { x: broken }), CheckpointError, "needs 16");
    assertEquals(toFloat32((await loadSafetensors(path)).get("x")!)[0], 1);
    assertEquals([...Deno.readDirSync(dir)].length, 1);
  } finally {
    await cleanup();
  }
});
