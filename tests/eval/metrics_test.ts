import { assertAlmostEquals, assertEquals, assertThrows } from "../assert.ts";
import {
  boundaryF,
  boundaryRadius,
  dilate,
  diskOffsets,
  JFAccumulator,
  regionJ,
  seg2bmap,
} from "../../src/eval/mod.ts";

/** A w x h mask with the rectangle [x0, x1] x [y0, y1] (inclusive) set. */
function rect(w: number, h: number, x0: number, x1: number, y0: number, y1: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[y * w + x] = 1;
  return m;
}

function ones(m: Uint8Array, w: number): [number, number][] {
  const out: [number, number][] = [];
  m.forEach((v, i) => v && out.push([i % w, Math.floor(i / w)]));
  return out;
}

Deno.test("seg2bmap() marks pixels that differ from right, bottom or bottom-right", () => {
  // 5x5 square at x,y in [5, 9] on 20x20: 11 outside pixels (column 4 for y 4..9, row 4
  // for x 5..9) + 9 inside pixels (column 9 for y 5..9, row 9 for x 5..8) = 20.
  const b = seg2bmap(rect(20, 20, 5, 9, 5, 9), 20, 20);
  const px = ones(b, 20).map(([x, y]) => `${x},${y}`);
  assertEquals(px.length, 20);
  for (const p of ["4,4", "4,9", "9,4", "5,4", "9,9", "9,5", "5,9", "8,9"]) {
    assertEquals(px.includes(p), true, p);
  }
  for (const p of ["5,5", "8,8", "10,5", "3,5"]) assertEquals(px.includes(p), false, p);
});

Deno.test("seg2bmap() applies the last-row and last-column rules", () => {
  // Full image: only the last row/column special cases can fire, and they compare
  // equal neighbours, so no boundary at all.
  assertEquals(ones(seg2bmap(new Uint8Array(12).fill(1), 4, 3), 4), []);
  // One pixel in the bottom-right corner (3, 2): its left neighbour (by its right), the
  // pixel above (by its bottom) and the diagonal one (by its bottom-right) are boundary;
  // the corner itself never is.
  const m = new Uint8Array(12);
  m[11] = 1;
  assertEquals(ones(seg2bmap(m, 4, 3), 4), [[2, 1], [3, 1], [2, 2]]);
  // The reference's downsampling formula maps (x, y) to (1+floor(x-1+W/h), 1+floor(y-1+H/h)).
  const small = seg2bmap(rect(4, 4, 0, 0, 0, 0), 4, 4, { width: 2, height: 2 });
  assertEquals(Array.from(small), [1, 0, 0, 0]);
  assertThrows(() => seg2bmap(rect(4, 4, 0, 3, 0, 3), 4, 4, { width: 2, height: 3 }), RangeError);
});

Deno.test("diskOffsets() and dilate() match skimage disk + cv2.dilate", () => {
  assertEquals(diskOffsets(1).length, 5);
  assertEquals(diskOffsets(2).length, 13);
  assertEquals(diskOffsets(8).length, 197);
  const d = dilate(rect(5, 5, 0, 0, 0, 0), 5, 5, 1); // corner: pixels outside are dropped
  assertEquals(ones(d, 5), [[0, 0], [1, 0], [0, 1]]);
});

Deno.test("boundaryRadius() is ceil(0.008 * image diagonal)", () => {
  assertEquals(boundaryRadius(854, 480), 8); // 0.008 * 979.7 = 7.84
  assertEquals(boundaryRadius(20, 20), 1);
  assertEquals(boundaryRadius(1920, 1080), 18); // 0.008 * 2202.9 = 17.6
});

Deno.test("regionJ() and boundaryF() give 1 for identical and 0 for distant masks", () => {
  const a = rect(40, 30, 2, 10, 3, 12);
  const b = rect(40, 30, 25, 35, 15, 25);
  assertEquals(regionJ(a, a), 1);
  assertEquals(boundaryF(a, a, 40, 30), { precision: 1, recall: 1, f: 1 });
  assertEquals(regionJ(a, b), 0);
  assertEquals(boundaryF(a, b, 40, 30).f, 0);
});

Deno.test("regionJ() and boundaryF() follow the empty-mask conventions", () => {
  const empty = new Uint8Array(100);
  const sq = rect(10, 10, 2, 5, 2, 5);
  assertEquals(regionJ(empty, empty), 1);
  assertEquals(boundaryF(empty, empty, 10, 10), { precision: 1, recall: 1, f: 1 });
  assertEquals(regionJ(empty, sq), 0);
  assertEquals(boundaryF(empty, sq, 10, 10), { precision: 1, recall: 0, f: 0 });
  assertEquals(boundaryF(sq, empty, 10, 10), { precision: 0, recall: 1, f: 0 });
});

Deno.test("boundaryF() of a square shifted by 2 pixels with a 1-pixel disk is 0.6", () => {
  // GT x,y in [5, 9], prediction x in [7, 11]; 20x20 gives radius 1 (a plus-shaped disk).
  // Counted by hand: 12 of the 20 predicted boundary pixels lie within 1 pixel of a GT
  // boundary pixel (4 of column x=6, 4 of row y=4, none of column x=11, 4 of row y=9),
  // and 12 of the 20 GT boundary pixels lie near a predicted one: P = R = F = 0.6.
  const gt = rect(20, 20, 5, 9, 5, 9);
  const pred = rect(20, 20, 7, 11, 5, 9);
  const s = boundaryF(pred, gt, 20, 20);
  assertAlmostEquals(s.precision, 0.6, 1e-15);
  assertAlmostEquals(s.recall, 0.6, 1e-15);
  assertAlmostEquals(s.f, 0.6, 1e-15);
  assertAlmostEquals(regionJ(pred, gt), 15 / 35, 1e-15); // 3x5 overlap over 35 pixels
  // A 1-pixel shift stays inside the tolerance: boundary F is 1, J is 20/30.
  const one = rect(20, 20, 6, 10, 5, 9);
  assertEquals(boundaryF(one, gt, 20, 20).f, 1);
  assertAlmostEquals(regionJ(one, gt), 20 / 30, 1e-15);
});

Deno.test("JFAccumulator counts an object from the frame it first appears in", () => {
  const w = 20, h = 20;
  const acc = new JFAccumulator();
  const blank = new Uint8Array(w * h);
  const obj = (id: number, m: Uint8Array) => m.map((v) => v * id);
  const gtA = obj(1, rect(w, h, 2, 6, 2, 6));
  // Frame 0: only object 1, predicted perfectly.
  acc.feedFrame(gtA, gtA, w, h);
  // Frame 1: object 2 appears in the GT and is missed; object 1 perfect again.
  const gtB = gtA.slice();
  rect(w, h, 10, 15, 10, 15).forEach((v, i) => v && (gtB[i] = 2));
  acc.feedFrame(gtA, gtB, w, h);
  // Frame 2: object 2 leaves the GT and the prediction: both empty, J = F = 1 for it.
  acc.feedFrame(gtA, gtA, w, h);
  // A predicted-only id (3) is tracked but not reported.
  const pred3 = gtA.slice();
  pred3[w * h - 1] = 3;
  acc.feedFrame(pred3, gtA, w, h);
  const r = acc.conclude();
  assertEquals([...r.keys()], [1, 2]);
  assertEquals(r.get(1), { j: 100, f: 100, frames: 4 });
  assertEquals(r.get(2)!.frames, 3);
  assertAlmostEquals(r.get(2)!.j, (0 + 1 + 1) / 3 * 100, 1e-12);
  assertAlmostEquals(r.get(2)!.f, (0 + 1 + 1) / 3 * 100, 1e-12);
  assertThrows(() => acc.feedFrame(blank, new Uint8Array(10), w, h), RangeError);
});

Deno.test("boundaryF() equals the full-image dilate-and-count definition", () => {
  // Definition as in the reference: full boundary maps, cv2.dilate with disk(r), counts.
  const reference = (p: Uint8Array, g: Uint8Array, w: number, h: number, th: number) => {
    const bp = seg2bmap(p, w, h), bg = seg2bmap(g, w, h);
    const r = boundaryRadius(w, h, th);
    const dp = dilate(bp, w, h, r), dg = dilate(bg, w, h, r);
    let nFg = 0, nGt = 0, fgMatch = 0, gtMatch = 0;
    for (let i = 0; i < w * h; i++) {
      nFg += bp[i];
      nGt += bg[i];
      fgMatch += bp[i] & dg[i];
      gtMatch += bg[i] & dp[i];
    }
    if (nFg === 0 || nGt === 0) return undefined; // the special cases are tested above
    const P = fgMatch / nFg, R = gtMatch / nGt;
    return P + R === 0 ? 0 : 2 * P * R / (P + R);
  };
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let compared = 0;
  for (let trial = 0; trial < 40; trial++) {
    const w = 17 + Math.floor(rand() * 30), h = 11 + Math.floor(rand() * 30);
    const blob = () => {
      const m = new Uint8Array(w * h);
      for (let k = 0; k < 3; k++) {
        const cx = rand() * w, cy = rand() * h, rx = 1 + rand() * w / 3, ry = 1 + rand() * h / 3;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) m[y * w + x] = 1;
          }
        }
      }
      return m;
    };
    const th = 0.02 + rand() * 0.08; // radius 1 to 5 on these sizes
    const p = blob(), g = blob();
    const want = reference(p, g, w, h, th);
    if (want === undefined) continue;
    assertAlmostEquals(boundaryF(p, g, w, h, { boundTh: th }).f, want, 1e-12, `trial ${trial}`);
    compared++;
  }
  assertEquals(compared > 30, true);
});
