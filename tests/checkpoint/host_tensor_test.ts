import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  bfloat16ToFloat,
  castTensor,
  floatToBfloat16,
  floatToHalf,
  halfToFloat,
  hostTensor,
  loadPt,
  selectStateDict,
  tensorsEqual,
  toFloat32,
  typedView,
} from "../../src/checkpoint/mod.ts";
import { local } from "./_helpers.ts";

Deno.test("castTensor() matches torch's .half() and .bfloat16() bit for bit", async () => {
  // dtypes.pt holds the same values as float32, float16, bfloat16, float64 (made by torch).
  const d = selectStateDict(await loadPt(local("dtypes.pt")));
  const get = (k: string) => d.get(k)!;
  const f32 = get("float32");
  assert(tensorsEqual(castTensor(f32, "float16"), get("float16")));
  assert(tensorsEqual(castTensor(f32, "bfloat16"), get("bfloat16")));
  assert(tensorsEqual(castTensor(f32, "float64"), get("float64")));
  assert(tensorsEqual(castTensor(get("float64"), "float32"), f32));
  assertEquals(toFloat32(get("int64")).length, 24);
});

Deno.test("floatToHalf() rounds to nearest even and handles the edges", () => {
  assertEquals(floatToHalf(1), 0x3c00);
  assertEquals(floatToHalf(-2), 0xc000);
  assertEquals(floatToHalf(65504), 0x7bff);
  assertEquals(floatToHalf(65520), 0x7c00); // rounds up to inf
  assertEquals(floatToHalf(Infinity), 0x7c00);
  assert((floatToHalf(NaN) & 0x7fff) > 0x7c00);
  assertEquals(floatToHalf(2 ** -24), 0x0001); // smallest subnormal
  assertEquals(floatToHalf(2 ** -25), 0); // ties to even: 0
  assertEquals(floatToHalf(1 + 2 ** -11), 0x3c00); // tie, even stays
  assertEquals(floatToHalf(1 + 3 * 2 ** -11), 0x3c02); // tie, odd rounds up
  for (const h of [0x0001, 0x03ff, 0x0400, 0x3555, 0x7bff, 0xfbff]) {
    assertEquals(floatToHalf(halfToFloat(h)), h);
  }
  assertEquals(floatToBfloat16(1), 0x3f80);
  assertEquals(bfloat16ToFloat(0x3f80), 1);
  assertEquals(floatToBfloat16(NaN) & 0x7fc0, 0x7fc0);
});

Deno.test("hostTensor() checks sizes; typedView() shares memory", () => {
  assertThrows(() => hostTensor("float32", [3], new Float32Array(2)), RangeError, "needs 12");
  assertThrows(() => hostTensor("float32", [-1], new Float32Array(0)), RangeError);
  const t = hostTensor("int32", [2], new Int32Array([4, 5]));
  const v = typedView(t) as Int32Array;
  v[0] = 9;
  assertEquals(t.data[0], 9);
  assertThrows(() => castTensor(t, "float32"), RangeError, "only float dtypes");
});
