import { assertEquals, assertThrows } from "../../assert.ts";
import { parseShard, shardList, shardRange } from "../../../src/data/extract/mod.ts";

Deno.test("parseShard() reads 0-based i/n and rejects what is out of range", () => {
  assertEquals(parseShard("0/4"), { index: 0, count: 4 });
  assertEquals(parseShard(" 3 / 4 "), { index: 3, count: 4 });
  assertThrows(() => parseShard("4/4"), RangeError, "0-based");
  assertThrows(() => parseShard("1/0"), RangeError);
  assertThrows(() => parseShard("a/b"), RangeError, "i/n");
  assertThrows(() => parseShard("-1/3"), RangeError);
});

Deno.test("shardList() splits like np.array_split: disjoint, complete, deterministic", () => {
  const items = Array.from({ length: 10 }, (_, i) => `v${i}`);
  // np.array_split(range(10), 3) -> sizes 4, 3, 3
  assertEquals(
    [0, 1, 2].map((index) => shardList(items, { index, count: 3 })),
    [["v0", "v1", "v2", "v3"], ["v4", "v5", "v6"], ["v7", "v8", "v9"]],
  );
  for (const n of [1, 2, 3, 7, 10, 13]) {
    for (const count of [1, 2, 3, 4, 5, 8, 16]) {
      const list = items.slice(0, n);
      const parts = Array.from({ length: count }, (_, index) => shardList(list, { index, count }));
      assertEquals(parts.flat(), list, `n=${n} count=${count}: concatenation is the list`);
      const sizes = parts.map((p) => p.length);
      assertEquals(Math.max(...sizes) - Math.min(...sizes) <= 1, true, `balanced ${sizes}`);
      assertEquals(
        parts,
        Array.from({ length: count }, (_, index) => shardList(list, { index, count })),
      );
    }
  }
  assertEquals(shardRange(2, { index: 3, count: 4 }), [2, 2]);
});
