import { assert, assertEquals, assertRejects, assertThrows } from "../../assert.ts";
import { PpmReader, PpmSplitter } from "../../../src/data/extract/mod.ts";

function ppm(w: number, h: number, fill: number, comment = ""): Uint8Array {
  const head = new TextEncoder().encode(`P6\n${comment}${w} ${h}\n255\n`);
  const out = new Uint8Array(head.length + w * h * 3).fill(fill);
  out.set(head);
  return out;
}

Deno.test("PpmSplitter.push() splits frames across any chunk boundaries, size changes included", () => {
  const stream = new Uint8Array([...ppm(3, 2, 7), ...ppm(3, 2, 9, "# c\n"), ...ppm(1, 4, 11)]);
  for (const step of [1, 2, 5, 17, 18, 19, 1000]) {
    const s = new PpmSplitter();
    const frames = [];
    for (let i = 0; i < stream.length; i += step) {
      frames.push(...s.push(stream.subarray(i, i + step)));
    }
    assertEquals(frames.map((f) => [f.width, f.height, f.data[0], f.data.length]), [
      [3, 2, 7, 18],
      [3, 2, 9, 18],
      [1, 4, 11, 12],
    ]);
    assert(s.idle, `step ${step}: ends on a frame boundary`);
  }
  const half = new PpmSplitter();
  half.push(ppm(2, 2, 1).subarray(0, 15));
  assertEquals(half.idle, false);
  assertThrows(() => half.finish(), SyntaxError, "ended mid-frame at byte 15");
  const head = new PpmSplitter();
  head.push(ppm(2, 2, 1).subarray(0, 5));
  assertThrows(() => head.finish(), SyntaxError, "ended inside a frame header at byte 5");
});

Deno.test("PpmSplitter.push() rejects what is not a binary 8-bit PPM, with the byte offset", () => {
  assertThrows(
    () => new PpmSplitter().push(new TextEncoder().encode("P5\n1 1\n255\nx")),
    SyntaxError,
    "byte 0",
  );
  assertThrows(
    () => new PpmSplitter().push(new TextEncoder().encode("P6\n1 1\n65535\n")),
    SyntaxError,
  );
});

function streamOf(
  bytes: Uint8Array,
  step: number,
  byteStream: boolean,
): ReadableStream<Uint8Array> {
  let i = 0;
  if (!byteStream) {
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (i >= bytes.length) return c.close();
        c.enqueue(bytes.slice(i, i + step));
        i += step;
      },
    });
  }
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      if (i >= bytes.length) {
        c.close();
        c.byobRequest?.respond(0);
        return;
      }
      c.enqueue(bytes.slice(i, i + step));
      i += step;
    },
  }) as ReadableStream<Uint8Array>;
}

Deno.test("PpmReader.next() reads frames with BYOB reads or from plain chunks, and flags a cut frame", async () => {
  const stream = new Uint8Array([
    ...ppm(3, 2, 7),
    ...ppm(3, 2, 9, "# a comment, as netpbm tools write\n"),
    ...ppm(1, 4, 11),
  ]);
  for (const byteStream of [true, false]) {
    for (const step of [1, 7, 18, 64, 1000]) {
      const r = new PpmReader(streamOf(stream, step, byteStream));
      const got = [];
      for (let f = await r.next(); f !== null; f = await r.next()) {
        got.push([f.width, f.height, f.data[0], f.data.at(-1), f.data.length]);
      }
      assertEquals(got, [[3, 2, 7, 7, 18], [3, 2, 9, 9, 18], [1, 4, 11, 11, 12]], `step ${step}`);
    }
    const cut = new PpmReader(streamOf(stream.subarray(0, 40), 5, byteStream));
    await cut.next();
    await assertRejects(() => cut.next(), SyntaxError, "ended");
    // the second frame's header cut off
    const cutHeader = new PpmReader(streamOf(stream.subarray(0, 18 + 11 + 9), 4, byteStream));
    await cutHeader.next();
    await assertRejects(() => cutHeader.next(), SyntaxError, "ended inside a frame header");
    const wide = new PpmReader(
      streamOf(new TextEncoder().encode("P6\n1 1\n65535\n\0\0\0\0\0\0"), 3, byteStream),
    );
    await assertRejects(() => wide.next(), SyntaxError, "maxval 65535 at byte 7 is not supported");
  }
});
