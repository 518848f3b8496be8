import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  CheckpointError,
  float32Tensor,
  type HostTensor,
  hostTensor,
  isHostTensor,
  loadPt,
  loadPtBytes,
  MemorySource,
  type PyDict,
  PyFloat,
  PyTuple,
  savePt,
  savePtBytes,
  tensorsEqual,
} from "../../src/checkpoint/mod.ts";
import { readZipDirectory, readZipEntry } from "../../src/checkpoint/zip_reader.ts";
import { flatten, local, MODEL_PT, tempDir } from "./_helpers.ts";

Deno.test("savePt() round-trips sam2-mini/model.pt: same keys, bitwise tensors, _metadata", async () => {
  const a = await loadPt(MODEL_PT) as PyDict;
  const b = await loadPtBytes(await savePtBytes(a)) as PyDict;
  const sa = a.get("model") as PyDict, sb = b.get("model") as PyDict;
  assertEquals([...sb.keys()], [...sa.keys()]);
  assert(sb.ordered);
  for (const [k, v] of sa) {
    assert(tensorsEqual(v as HostTensor, sb.get(k) as HostTensor), String(k));
  }
  assertEquals(flatten(sb.attrs?.get("_metadata")), flatten(sa.attrs?.get("_metadata")));
});

Deno.test("savePt() writes torch's layout: STORED, 64-byte aligned data, version 3", async () => {
  const bytes = await savePtBytes({
    a: float32Tensor([3], [1, 2, 3]),
    b: hostTensor("int64", [2], new BigInt64Array([5n, -6n])),
  });
  const src = new MemorySource(bytes, "mem.pt");
  const dir = await readZipDirectory(src);
  assertEquals(dir.names, [
    "archive/data.pkl",
    "archive/byteorder",
    "archive/data/0",
    "archive/data/1",
    "archive/version",
  ]);
  const view = new DataView(bytes.buffer);
  for (const name of dir.names) {
    const e = dir.entries.get(name)!;
    assertEquals(e.method, 0, name);
    const lh = e.localHeaderOffset;
    const dataStart = lh + 30 + view.getUint16(lh + 26, true) + view.getUint16(lh + 28, true);
    assertEquals(dataStart % 64, 0, `${name} data offset`);
  }
  const text = async (n: string) =>
    new TextDecoder().decode(await readZipEntry(src, dir, dir.entries.get(n)!));
  assertEquals(await text("archive/version"), "3\n");
  assertEquals(await text("archive/byteorder"), "little");
});

Deno.test("savePt() keeps scalars, tuples, bytes, big ints, params and shared tensors", async () => {
  const w = float32Tensor([2, 2], [1, 2, 3, 4]);
  const p: HostTensor = { ...float32Tensor([2], [5, 6]), requiresGrad: true };
  const tree = {
    tied_a: w,
    tied_b: w,
    param: p,
    epoch: 7,
    lr: new PyFloat(1),
    neg: -(2 ** 40),
    huge: 2n ** 80n,
    minus_huge: -(2n ** 80n),
    half: 0.5,
    betas: PyTuple.of(0.9, 0.999),
    raw: new Uint8Array([0, 255, 7]),
    none: null,
    flags: [true, false],
    nested: new Map<string | number, unknown>([[0, { step: 3 }], [1, []]]),
  };
  const back = await loadPtBytes(await savePtBytes(tree)) as PyDict;
  assert(back.get("tied_a") === back.get("tied_b"), "one storage, one tensor object");
  const bp = back.get("param") as HostTensor;
  assert(isHostTensor(bp) && bp.requiresGrad === true);
  assertEquals(back.get("epoch"), 7);
  assertEquals(back.get("lr"), 1);
  assertEquals(back.get("neg"), -(2 ** 40));
  assertEquals(back.get("huge"), 2n ** 80n);
  assertEquals(back.get("minus_huge"), -(2n ** 80n));
  assert(back.get("betas") instanceof PyTuple);
  assertEquals(back.get("raw"), new Uint8Array([0, 255, 7]));
  assertEquals(back.get("none"), null);
  assertEquals(back.get("flags"), [true, false]);
  const nested = back.get("nested") as PyDict;
  assertEquals((nested.get(0) as PyDict).get("step"), 3);
});

Deno.test("savePt() with zip64 records reads back", async () => {
  const t = float32Tensor([4], [1, 2, 3, 4]);
  const back = await loadPtBytes(await savePtBytes({ t }, { forceZip64: true })) as PyDict;
  assert(tensorsEqual(back.get("t") as HostTensor, t));
});

Deno.test("savePt() is atomic: refuses to overwrite when asked, leaves nothing on error", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    const path = `${dir}/x.pt`;
    await savePt(path, { a: float32Tensor([1], [1]) });
    const before = await Deno.readFile(path);
    await assertRejects(() => savePt(path, { a: float32Tensor([1], [2]) }, { overwrite: false }));
    await assertRejects(() => savePt(path, { f: () => 1 }), CheckpointError, "Cannot pickle");
    assertEquals(await Deno.readFile(path), before);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["x.pt"]);
  } finally {
    await cleanup();
  }
});

Deno.test("savePt() round-trips torch's trainer checkpoint tree", async () => {
  const a = await loadPt(local("trainer.pt"));
  const b = await loadPtBytes(await savePtBytes(a));
  assertEquals(flatten(b), flatten(a));
});
