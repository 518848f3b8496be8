import { assertEquals } from "../../assert.ts";
import { MINI, miniBaseModel } from "../_mini.ts";

// forwardImage() and forwardSamHeads() are compared with the reference in
// tests/sam2/backbone/image_encoder_test.ts and tests/sam2/sam/sam_heads_test.ts.

Deno.test("SAM2Base(mini) state_dict keys, shapes and order equal the reference's key list", async () => {
  const m = await miniBaseModel();
  const ref = JSON.parse(await Deno.readTextFile(new URL("keys/mini.json", MINI))) as {
    keys: [string, number[], number][];
    total_parameters: number;
  };
  const ours = [...m.stateDict()].map(([k, t]) => [k, [...t.shape]]);
  assertEquals(ours, ref.keys.map(([k, s]) => [k, s]));
  assertEquals(m.numParameters(), ref.total_parameters);
});
