import { assert, assertEquals, assertRejects } from "../assert.ts";
import { zipSync } from "fflate";
import {
  CheckpointError,
  float32Tensor,
  type HostTensor,
  loadPtBytes,
  MemorySource,
  type PyDict,
  tensorsEqual,
  toFloat32,
} from "../../src/checkpoint/mod.ts";
import { pickle } from "../../src/checkpoint/pickler.ts";
import { crc32, crc32Chunks } from "../../src/checkpoint/crc32.ts";
import { readZipDirectory } from "../../src/checkpoint/zip_reader.ts";
import { ZipWriter } from "../../src/checkpoint/zip_writer.ts";

const enc = new TextEncoder();

async function zipOf(records: [string, Uint8Array][]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const z = new ZipWriter((b) => {
    parts.push(b.slice());
    return Promise.resolve();
  });
  for (const [n, d] of records) await z.add(n, d);
  await z.finish();
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

Deno.test("crc32() matches the zip polynomial's check value", () => {
  assertEquals(crc32(enc.encode("123456789")), 0xcbf43926);
  assertEquals(crc32(enc.encode("6789"), crc32(enc.encode("12345"))), 0xcbf43926);
  assertEquals(crc32(new Uint8Array(0)), 0);
});

Deno.test("loadPt() byte-swaps storages of a big-endian file", async () => {
  const t = float32Tensor([3], [1.5, -2, 1e-3]);
  const { bytes: pkl } = pickle({ t });
  const swapped = new Uint8Array(12);
  for (let i = 0; i < 12; i += 4) for (let j = 0; j < 4; j++) swapped[i + j] = t.data[i + 3 - j];
  const file = await zipOf([
    ["archive/data.pkl", pkl],
    ["archive/byteorder", enc.encode("big")],
    ["archive/data/0", swapped],
    ["archive/version", enc.encode("3\n")],
  ]);
  const back = await loadPtBytes(file) as PyDict;
  assertEquals([...toFloat32(back.get("t") as HostTensor)], [...toFloat32(t)]);
});

Deno.test("loadPt() reads a re-zipped (deflated) checkpoint", async () => {
  const t = float32Tensor([4], [1, 2, 3, 4]);
  const { bytes: pkl } = pickle({ t });
  const file = zipSync({
    "archive/data.pkl": [pkl, { level: 6 }],
    "archive/data/0": [t.data, { level: 6 }],
    "archive/version": enc.encode("3\n"),
  });
  const dir = await readZipDirectory(new MemorySource(file));
  assertEquals(dir.entries.get("archive/data.pkl")!.method, 8);
  const back = await loadPtBytes(file) as PyDict;
  assert(tensorsEqual(back.get("t") as HostTensor, t));
});

Deno.test("loadPt() names a missing storage record and a too-short one", async () => {
  const t = float32Tensor([4], [1, 2, 3, 4]);
  const { bytes: pkl } = pickle({ t });
  const missing = await zipOf([["archive/data.pkl", pkl], ["archive/version", enc.encode("3\n")]]);
  await assertRejects(
    () => loadPtBytes(missing),
    CheckpointError,
    'Storage record "archive/data/0" is missing',
  );
  const short = await zipOf([
    ["archive/data.pkl", pkl],
    ["archive/data/0", t.data.subarray(0, 8)],
  ]);
  await assertRejects(() => loadPtBytes(short), CheckpointError, "needs 16 bytes");
  const noPickle = await zipOf([["archive/data/0", t.data]]);
  await assertRejects(() => loadPtBytes(noPickle), CheckpointError, "data.pkl");
  await assertRejects(() => loadPtBytes(enc.encode("hello")), CheckpointError, "Not a torch.save");
});

Deno.test("crc32Chunks() (WebAssembly) agrees with crc32() (JS)", async () => {
  const data = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31 + 7) & 0xff);
  const parts = [data.subarray(0, 5), data.subarray(5, 77_777), data.subarray(77_777)];
  assertEquals(await crc32Chunks(parts), crc32(data));
  assertEquals(await crc32Chunks([]), 0);
});
