import { assert, assertEquals, assertRejects, assertThrows } from "../../assert.ts";
import {
  davisPalette,
  decodeIndexedPng,
  decodeRgb,
  encodePalettePng,
  encodeRgbJpeg,
  ImageDecodeError,
  imageSize,
} from "../../../src/data/image/mod.ts";
import { Rng } from "../../../src/data/rng.ts";

const FIX = new URL("../../../../shared/fixtures/", import.meta.url);
const path = (p: string) => new URL(p, FIX).pathname;

Deno.test("decodeRgb() decodes a DAVIS JPEG to 854x480 RGB", async () => {
  const img = await decodeRgb(path("davis2016/JPEGImages/blackswan/00000.jpg"));
  assertEquals([img.width, img.height, img.data.length], [854, 480, 854 * 480 * 3]);
  let sum = 0;
  for (let i = 0; i < img.data.length; i += 97) sum += img.data[i];
  assert(sum > 0);
  assertEquals(await imageSize(path("davis2016/JPEGImages/blackswan/00000.jpg")), {
    width: 854,
    height: 480,
  });
});

Deno.test("encodeRgbJpeg() output decodes back close to the input", async () => {
  const w = 32, h = 16, data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 64 + 100;
  const back = await decodeRgb(await encodeRgbJpeg({ width: w, height: h, data }, { quality: 95 }));
  assertEquals([back.width, back.height], [w, h]);
  let err = 0;
  for (let i = 0; i < data.length; i++) err += Math.abs(back.data[i] - data[i]);
  assert(err / data.length < 12, `mean abs error ${err / data.length}`);
});

Deno.test("decodeIndexedPng() keeps DAVIS 2017 object ids and void 255", () => {
  const png = decodeIndexedPng(Deno.readFileSync(path("davis2017/Annotations/tennis/00000.png")));
  assertEquals([png.width, png.height], [854, 480]);
  assertEquals([...new Set(png.data)].sort((a, b) => a - b), [0, 1, 2, 255]);
  assertEquals(png.palette?.[1], davisPalette()[1]);
});

Deno.test("encodePalettePng() round-trips indices through decodeIndexedPng()", () => {
  const rng = new Rng(1);
  const w = 37, h = 11, data = new Uint8Array(w * h);
  for (let i = 0; i < data.length; i++) data[i] = rng.randrange(5);
  data[3] = 255;
  const back = decodeIndexedPng(encodePalettePng({ width: w, height: h, data }));
  assertEquals(back.data, data);
  assertEquals(back.palette?.[2], [0, 128, 0]);
});

Deno.test("decodeRgb() and decodeIndexedPng() name the broken file", async () => {
  const bytes = Deno.readFileSync(path("davis2016/JPEGImages/blackswan/00000.jpg"));
  const e = await assertRejects(
    () => decodeRgb(bytes.slice(0, 200), { name: "cut.jpg" }),
    ImageDecodeError,
    "cut.jpg",
  );
  assert(e.message.length > 30);
  await assertRejects(
    () => decodeRgb("/nonexistent/x.jpg"),
    ImageDecodeError,
    "/nonexistent/x.jpg",
  );
  const png = Deno.readFileSync(path("davis2017/Annotations/tennis/00000.png"));
  assertThrows(
    () => decodeIndexedPng(png.slice(0, png.length - 40), { name: "cut.png" }),
    ImageDecodeError,
    "cut.png",
  );
  assertThrows(
    () => decodeIndexedPng(new Uint8Array(10), { name: "z.png" }),
    ImageDecodeError,
    "z.png",
  );
});

Deno.test("decodeIndexedPng() fuzzed with mutated bytes throws ImageDecodeError or decodes", () => {
  const rng = new Rng(5);
  const base = Deno.readFileSync(path("davis2017/Annotations/bmx-trees/00000.png"));
  let bad = 0;
  for (let t = 0; t < 150; t++) {
    const b = base.slice(0, rng.random() < 0.2 ? rng.randrange(base.length) : base.length);
    for (let k = rng.randint(1, 6); k > 0; k--) b[rng.randrange(b.length)] = rng.randrange(256);
    try {
      const img = decodeIndexedPng(b, { name: `mut${t}.png` });
      assertEquals(img.data.length, img.width * img.height);
    } catch (e) {
      assert(e instanceof ImageDecodeError, `unexpected ${e}`);
      assert(e.message.includes(`mut${t}.png`));
      bad++;
    }
  }
  assert(bad > 50, `${bad}`);
});

Deno.test("decodeIndexedPng() refuses 16-bit gray unless kept, and binarizes colour on request", async () => {
  const { encode } = await import("fast-png");
  const gray16 = encode({
    width: 2,
    height: 1,
    data: new Uint16Array([0, 300]),
    depth: 16,
    channels: 1,
  });
  assertThrows(() => decodeIndexedPng(gray16, { name: "g.png" }), ImageDecodeError, "16 bits");
  const kept = decodeIndexedPng(gray16, { gray16: "keep" });
  assert(kept.data instanceof Uint16Array);
  assertEquals(Array.from(kept.data), [0, 300]);
  assertEquals(Array.from(decodeIndexedPng(gray16, { color: "nonzero" }).data), [0, 1]);
  const rgba = encode({
    width: 3,
    height: 1,
    data: new Uint8Array([0, 0, 0, 255, 0, 9, 0, 255, 0, 0, 0, 0]),
    channels: 4,
  });
  assertThrows(() => decodeIndexedPng(rgba, { name: "c.png" }), ImageDecodeError, "4 channels");
  assertEquals(Array.from(decodeIndexedPng(rgba, { color: "nonzero" }).data), [0, 1, 0]);
});
