import { assertEquals, assertRejects, assertThrows } from "../../assert.ts";
import {
  MAX_PPM_HEADER,
  PpmHeaderScanner,
  readPpmHeader,
} from "../../../src/data/extract/_ppm_header.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** Pushes `bytes` in `step`-byte chunks; returns the size and the bytes left after the header. */
function scanInSteps(bytes: Uint8Array, step: number, at = 0) {
  const s = new PpmHeaderScanner();
  s.reset(at);
  for (let i = 0; i < bytes.length; i += step) {
    const chunk = bytes.subarray(i, Math.min(i + step, bytes.length));
    const used = s.push(chunk);
    if (s.size !== null) {
      return { size: s.size, header: s.length, rest: bytes.subarray(i + used) };
    }
    assertEquals(used, chunk.length, "an unfinished header takes the whole chunk");
  }
  return { size: null, header: s.length, rest: new Uint8Array(0) };
}

Deno.test("PpmHeaderScanner.push() stops right after the header, whatever the chunk boundaries", () => {
  const headers = [
    "P6\n640 480\n255\n",
    "P6 3 2 255 ",
    "P6\t3\r\n2\r\n255\r",
    "P6\n# made by a test\n3 2\n255\n",
    "P6 # comment right after the magic\n3# comment right after the width\n2\n#\n#\r255\n",
  ];
  for (const text of headers) {
    const head = enc(text);
    // the first pixel bytes look like header bytes, so stopping early or late shows
    const bytes = new Uint8Array([...head, 0x32, 0x20, 0x23, 0x0a]);
    const want = text.startsWith("P6\n640") ? [640, 480] : [3, 2];
    for (const step of [1, 2, 3, 5, 7, head.length - 1, head.length, bytes.length]) {
      const got = scanInSteps(bytes, step);
      assertEquals(
        [got.size?.width, got.size?.height],
        want,
        `${JSON.stringify(text)} step ${step}`,
      );
      assertEquals(got.header, head.length, `${JSON.stringify(text)} step ${step}`);
      assertEquals([...got.rest], [0x32, 0x20, 0x23, 0x0a], `${JSON.stringify(text)} step ${step}`);
    }
  }
});

Deno.test("PpmHeaderScanner.bytes holds the header as read, and reset() starts the next one", () => {
  const s = new PpmHeaderScanner();
  s.reset(0);
  s.push(
    enc("P6\n# a comment long enough to outgrow the first buffer of sixty-four bytes\n1 1\n255\n"),
  );
  assertEquals(
    new TextDecoder().decode(s.bytes),
    "P6\n# a comment long enough to outgrow the first buffer of sixty-four bytes\n1 1\n255\n",
  );
  s.reset(100);
  assertEquals([s.length, s.size], [0, null]);
  assertEquals(s.push(enc("P6 2 3 255\nxyz")), 11);
  assertEquals(s.size, { width: 2, height: 3 });
});

Deno.test("PpmHeaderScanner.push() reads maxval 255 only and says so otherwise, with the byte offset", () => {
  for (const maxval of ["65535", "1", "254", "0"]) {
    const e = assertThrows(
      () => scanInSteps(enc(`P6\n4 4\n${maxval}\n`), 1, 1000),
      SyntaxError,
      `maxval ${maxval} at byte 1007 is not supported`,
    );
    assertEquals(e.message.includes("maxval 255"), true, e.message);
  }
});

Deno.test("PpmHeaderScanner.push() rejects what is not a P6 header, naming the byte", () => {
  const cases: [string, string][] = [
    ["P5\n1 1\n255\n", 'expected "P6" at byte 50'],
    ["p6\n1 1\n255\n", 'expected "P6" at byte 50'],
    ["P61 1 255\n", "at byte 52"],
    ["P6\n1x 1 255\n", 'expected whitespace or a digit at byte 54, found "x"'],
    ["P6\n-1 1 255\n", "at byte 53"],
    ["P6\n0 1 255\n", "width 0 at byte 53"],
    ["P6\n1 0 255\n", "height 0 at byte 55"],
    ["P6\n1 1 255#x\n", "one whitespace byte after the maxval at byte 60"],
    ["P6\n1 1 1234567890\n", "maxval too large"],
    ["P6\n1 1 255\u0000", "at byte 60, found 0x00"],
  ];
  for (const [text, message] of cases) {
    for (const step of [1, 4, 100]) {
      assertThrows(() => scanInSteps(enc(text), step, 50), SyntaxError, message);
    }
  }
  const endless = enc(`P6\n#${"x".repeat(MAX_PPM_HEADER)}\n1 1 255\n`);
  assertThrows(() => scanInSteps(endless, 64), SyntaxError, `runs past ${MAX_PPM_HEADER} bytes`);
});

/** A `read()` that hands out `bytes` in `step`-byte pieces, then null. */
function reads(bytes: Uint8Array, step: number): () => Promise<Uint8Array | null> {
  let i = 0;
  return () => {
    if (i >= bytes.length) return Promise.resolve(null);
    const piece = bytes.slice(i, i + step);
    i += step;
    return Promise.resolve(piece);
  };
}

Deno.test("readPpmHeader() uses the carry first, then reads, and returns what it read past the header", async () => {
  const head = enc("P6\n# c\n2 1\n255\n");
  const stream = new Uint8Array([...head, 1, 2, 3, 4, 5, 6]);
  for (const split of [0, 1, 5, head.length, stream.length]) {
    for (const step of [1, 3, 64]) {
      const s = new PpmHeaderScanner();
      const got = await readPpmHeader(
        s,
        0,
        stream.subarray(0, split),
        reads(stream.subarray(split), step),
      );
      assertEquals(got?.size, { width: 2, height: 1 }, `split ${split} step ${step}`);
      assertEquals(s.bytes, head);
      // what came with the header is handed back; the rest is still to be read
      const rest = [...got!.rest];
      assertEquals(rest, [1, 2, 3, 4, 5, 6].slice(0, rest.length), `split ${split} step ${step}`);
    }
  }
});

Deno.test("readPpmHeader() returns null at the end of the stream and flags a truncated header", async () => {
  const s = new PpmHeaderScanner();
  assertEquals(await readPpmHeader(s, 10, new Uint8Array(0), reads(new Uint8Array(0), 1)), null);
  for (const cut of ["P", "P6", "P6\n3 2", "P6\n3 2\n255", "P6\n# a comment"]) {
    await assertRejects(
      () => readPpmHeader(s, 10, enc(cut).subarray(0, 1), reads(enc(cut).subarray(1), 2)),
      SyntaxError,
      `ended inside a frame header at byte ${10 + cut.length}`,
    );
  }
});
