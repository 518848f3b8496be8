import { assertEquals } from "../assert.ts";

Deno.test("deno is the pinned 2.9.6", () => {
  assertEquals(Deno.version.deno, "2.9.6");
});
