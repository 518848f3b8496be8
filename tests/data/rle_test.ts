import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  type BinaryMask,
  countsFromString,
  countsToString,
  decodeRle,
  encodeRle,
  maskToCounts,
  mergeRles,
  rleArea,
  rleBbox,
  RleError,
  rleIou,
} from "../../src/data/rle/mod.ts";
import { Rng } from "../../src/data/rng.ts";

const FIX = new URL("../../../shared/fixtures/", import.meta.url);

interface SavJson {
  masklet: ({ size: [number, number]; counts: string } | null)[][];
}
const sav = JSON.parse(
  Deno.readTextFileSync(new URL("sav/sav_000001_manual.json", FIX)),
) as SavJson;

function bboxOfMask(m: BinaryMask): [number, number, number, number] {
  let xs = m.width, ys = m.height, xe = -1, ye = -1;
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (m.data[y * m.width + x]) {
        xs = Math.min(xs, x);
        xe = Math.max(xe, x);
        ys = Math.min(ys, y);
        ye = Math.max(ye, y);
      }
    }
  }
  return xe < 0 ? [0, 0, 0, 0] : [xs, ys, xe - xs + 1, ye - ys + 1];
}

Deno.test("decodeRle()/encodeRle() round-trip every SA-V masklet to the identical string", () => {
  assertEquals(sav.masklet.length, 121);
  let n = 0;
  for (const frame of sav.masklet) {
    assertEquals(frame.length, 5);
    for (const rle of frame) {
      if (!rle) continue;
      const m = decodeRle(rle);
      assertEquals([m.height, m.width], [848, 480]);
      assertEquals(encodeRle(m).counts, rle.counts);
      n++;
    }
  }
  assert(n > 500, `only ${n} masks checked`);
});

Deno.test("rleArea() and rleBbox() equal the decoded mask's pixel count and box", () => {
  let nonEmpty = 0;
  for (const frame of sav.masklet.filter((_, i) => i % 10 === 0)) {
    for (const rle of frame) {
      if (!rle) continue;
      const m = decodeRle(rle);
      let area = 0;
      for (const v of m.data) area += v;
      assertEquals(rleArea(rle), area);
      assertEquals(rleBbox(rle), bboxOfMask(m));
      if (area > 0) nonEmpty++;
    }
  }
  assert(nonEmpty > 20);
  // the first masklet of the first frame, checked by hand-free invariants
  const first = sav.masklet[0][0]!;
  assert(rleArea(first) > 0);
});

Deno.test("rleBbox() spans the full height when a run wraps columns (pycocotools rule)", () => {
  // 4x3 mask, column-major: 3 zeros, then 2 ones wrapping from column 0 into column 1
  const rle = { size: [4, 3] as [number, number], counts: [3, 2, 7] };
  assertEquals(rleBbox(rle), [0, 0, 2, 4]);
  assertEquals(rleArea(rle), 2);
});

Deno.test("encodeRle() puts a leading zero run when the first pixel is set", () => {
  const m: BinaryMask = { height: 2, width: 2, data: new Uint8Array([1, 0, 1, 1]) };
  assertEquals(maskToCounts(m), [0, 2, 1, 1]);
  assertEquals(decodeRle(encodeRle(m)).data, m.data);
});

Deno.test("countsToString() and countsFromString() agree on random runs", () => {
  const rng = new Rng(7);
  for (let t = 0; t < 200; t++) {
    const runs: number[] = [];
    let total = 0;
    const n = rng.randint(1, 30);
    for (let i = 0; i < n; i++) {
      const r = rng.random() < 0.1 ? rng.randint(0, 200000) : rng.randint(i === 0 ? 0 : 1, 50);
      runs.push(r);
      total += r;
    }
    assertEquals(countsFromString(countsToString(runs), [total, 1]), runs);
  }
});

Deno.test("mergeRles() and rleIou() match pixel-wise union, intersection and IoU", () => {
  const rng = new Rng(3);
  const mk = (): BinaryMask => {
    const data = new Uint8Array(12 * 9);
    for (let i = 0; i < data.length; i++) data[i] = rng.random() < 0.4 ? 1 : 0;
    return { height: 12, width: 9, data };
  };
  for (let t = 0; t < 20; t++) {
    const a = mk(), b = mk();
    const ra = encodeRle(a), rb = encodeRle(b);
    const u = decodeRle(mergeRles([ra, rb])).data;
    const i = decodeRle(mergeRles([ra, rb], true)).data;
    let nu = 0, ni = 0;
    for (let k = 0; k < a.data.length; k++) {
      assertEquals(u[k], a.data[k] | b.data[k]);
      assertEquals(i[k], a.data[k] & b.data[k]);
      nu += u[k];
      ni += i[k];
    }
    assertEquals(rleIou(ra, rb), nu === 0 ? 0 : ni / nu);
  }
  assertEquals(
    rleIou(sav.masklet[0][0]!, sav.masklet[0][0]!),
    1,
  );
});

Deno.test("decodeRle() reports bad counts with a clear error", () => {
  assertThrows(() => decodeRle({ size: [4, 4], counts: "0 " }), RleError, "invalid character");
  assertThrows(() => decodeRle({ size: [4, 4], counts: "R" }), RleError, "ends inside");
  assertThrows(() => decodeRle({ size: [4, 4], counts: [3, 2] }), RleError, "cover 5 pixels");
  assertThrows(() => decodeRle({ size: [4, 4], counts: [20] }), RleError, "cover 20");
  assertThrows(() => decodeRle({ size: [-1, 4], counts: "" }), RleError, "non-negative");
  assertThrows(() => decodeRle({ size: [1e6, 1e6], counts: "" }), RleError, "larger than");
  assertThrows(
    () => decodeRle({ size: [4, 4], counts: "ooooooooooooooo1" }),
    RleError,
    "too long",
  );
});

Deno.test("decodeRle() fuzzed with mutated SA-V strings either decodes or throws RleError", () => {
  const rng = new Rng(12345);
  const pool = sav.masklet.flat().filter((r) => r !== null) as {
    size: [number, number];
    counts: string;
  }[];
  let ok = 0, bad = 0;
  for (let t = 0; t < 400; t++) {
    const base = pool[rng.randrange(pool.length)];
    let s = base.counts;
    const edits = rng.randint(1, 4);
    for (let e = 0; e < edits; e++) {
      const p = rng.randrange(Math.max(1, s.length));
      const kind = rng.randrange(4);
      const ch = String.fromCharCode(rng.randint(32, 126));
      if (kind === 0) s = s.slice(0, p) + ch + s.slice(p + 1);
      else if (kind === 1) s = s.slice(0, p) + s.slice(p + 1);
      else if (kind === 2) s = s.slice(0, p) + ch + s.slice(p);
      else s = s.slice(0, p);
    }
    const size: [number, number] = rng.random() < 0.1
      ? [rng.randint(0, 2000), rng.randint(0, 2000)]
      : base.size;
    try {
      const m = decodeRle({ size, counts: s });
      assertEquals(m.data.length, size[0] * size[1]);
      ok++;
    } catch (e) {
      assert(e instanceof RleError, `unexpected ${e}`);
      assert(e.message.length > 10);
      bad++;
    }
  }
  assert(bad > 100, `${bad} rejected`);
  assert(ok + bad === 400);
});

Deno.test("decodeRle() fuzzed with random count arrays never writes past the mask", () => {
  const rng = new Rng(99);
  for (let t = 0; t < 300; t++) {
    const h = rng.randint(0, 8), w = rng.randint(0, 8);
    const counts = Array.from(
      { length: rng.randint(0, 6) },
      () => rng.random() < 0.1 ? -rng.randint(1, 5) : rng.randint(0, 20),
    );
    try {
      const m = decodeRle({ size: [h, w], counts });
      assertEquals(m.data.length, h * w);
    } catch (e) {
      assert(e instanceof RleError, `unexpected ${e}`);
    }
  }
});
