import { assert, assertEquals, assertRejects } from "../assert.ts";
import { CheckpointError, FileSource, openPt } from "../../src/checkpoint/mod.ts";
import { MODEL_PT, tempDir } from "./_helpers.ts";

Deno.test("FileSource.read() keeps concurrent reads apart", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    const bytes = Uint8Array.from({ length: 4096 }, (_, i) => i % 251);
    await Deno.writeFile(`${dir}/f.bin`, bytes);
    const src = await FileSource.open(`${dir}/f.bin`);
    try {
      const offsets = [0, 3000, 17, 2048, 1111, 4000];
      const got = await Promise.all(offsets.map((o) => src.read(o, 90, "test")));
      offsets.forEach((o, i) => assertEquals(got[i], bytes.slice(o, o + 90), `offset ${o}`));
      await assertRejects(() => src.read(4000, 200, "the tail"), CheckpointError, "truncated");
    } finally {
      src.close();
    }
  } finally {
    await cleanup();
  }
});

Deno.test("LazyTensor.load() calls may run in parallel", async () => {
  const a = await openPt(MODEL_PT);
  try {
    const sd = (a.root as Map<string, unknown>).get("model") as Map<
      string,
      { load(): Promise<{ data: Uint8Array }> }
    >;
    const lazy = [...sd.values()].slice(0, 40);
    const par = await Promise.all(lazy.map((t) => t.load()));
    for (let i = 0; i < lazy.length; i++) {
      const seq = await lazy[i].load();
      assert(seq.data.every((b, j) => b === par[i].data[j]), `tensor ${i}`);
    }
  } finally {
    a.close();
  }
});
