import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { FifoPpmReader } from "../../../src/data/extract/_fifo_reader.ts";
import { openLibc } from "../../../src/util/_libc.ts";

const hasLibc = openLibc() !== null;

function ppm(w: number, h: number, fill: number, comment = ""): Uint8Array {
  const head = new TextEncoder().encode(`P6\n${comment}${w} ${h}\n255\n`);
  const out = new Uint8Array(head.length + w * h * 3).fill(fill);
  out.set(head);
  return out;
}

/** Opens the FIFO for writing and writes `bytes` in `step`-byte pieces, then closes it. */
async function writeInPieces(path: string, bytes: Uint8Array, step: number): Promise<void> {
  const f = await Deno.open(path, { write: true });
  try {
    for (let i = 0; i < bytes.length; i += step) {
      const piece = bytes.subarray(i, i + step);
      for (let k = 0; k < piece.length;) k += await f.write(piece.subarray(k));
      if (i % (step * 4) === 0) await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    f.close();
  }
}

Deno.test({
  name: "FifoPpmReader.next() reads what a writer puts in the FIFO, size changes included",
  ignore: !hasLibc,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sam2-fifo-test-" });
    try {
      const stream = new Uint8Array([
        ...ppm(40, 30, 7),
        ...ppm(40, 30, 9),
        ...ppm(41, 7, 11),
        ...ppm(41, 7, 12),
        ...ppm(41, 7, 14, "# a header that differs from the last one only by its comment\n"),
        ...ppm(40, 30, 13),
      ]);
      for (const step of [1000, 4096, stream.length]) {
        const r = FifoPpmReader.create(dir)!;
        assert(r !== null, "a FIFO can be made");
        const writing = writeInPieces(r.path, stream, step);
        const got = [];
        for (let f = await r.next(); f !== null; f = await r.next()) {
          got.push([f.width, f.height, f.data[0], f.data.at(-1), f.data.length]);
        }
        await writing;
        await r.cancel();
        assertEquals(got, [
          [40, 30, 7, 7, 3600],
          [40, 30, 9, 9, 3600],
          [41, 7, 11, 11, 861],
          [41, 7, 12, 12, 861],
          [41, 7, 14, 14, 861],
          [40, 30, 13, 13, 3600],
        ], `step ${step}`);
        assertEquals(r.offset, stream.length);
        assertEquals([...Deno.readDirSync(dir)], [], "cancel() removes the FIFO");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "FifoPpmReader.next() flags a cut frame, and ends when the writer exits without opening it",
  ignore: !hasLibc,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sam2-fifo-test-" });
    try {
      const cut = FifoPpmReader.create(dir)!;
      const writing = writeInPieces(cut.path, ppm(40, 30, 1).subarray(0, 2000), 500);
      await assertRejects(() => cut.next(), SyntaxError, "ended mid-frame");
      await writing;
      await cut.cancel();

      const never = FifoPpmReader.create(dir)!;
      setTimeout(() => never.writerExited(), 50);
      assertEquals(await never.next(), null);
      await never.cancel();

      const empty = FifoPpmReader.create(dir)!;
      await writeInPieces(empty.path, new Uint8Array(0), 1);
      assertEquals(await empty.next(), null);
      await empty.cancel();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
