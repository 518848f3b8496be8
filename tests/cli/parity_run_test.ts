import { compareArrays } from "../../src/cli/commands/parity_run.ts";
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";

const tol = (mag: number) => 1e-4 * (1 + mag);

Deno.test("compareArrays() measures the error relative to max |ref| and names the worst element", () => {
  const ok = compareArrays("x", [1, 2.0001, -4], [1, 2, -4], tol);
  assert(ok.ok);
  assert(Math.abs(ok.relErr - 1e-4 / 4) < 1e-9, `relErr ${ok.relErr}`);
  const miss = compareArrays("x", [1, 2, -3], [1, 2, -4], tol);
  assertEquals(miss.ok, false);
  assertEquals(miss.relErr, 0.25);
  assertStringIncludes(miss.note!, "at 2 (ours=-3 | ref=-4)");
  assertEquals(compareArrays("x", [1], [1, 2], tol).ok, false);
});

Deno.test("compareArrays() fails on a NaN even when later elements match", () => {
  const r = compareArrays("x", [NaN, 1, 2], [0, 1, 2], tol);
  assertEquals(r.ok, false);
  assertStringIncludes(r.note!, "at 0 (ours=NaN");
  assertEquals(compareArrays("x", [0, 1], [NaN, 1], tol).ok, false);
});
