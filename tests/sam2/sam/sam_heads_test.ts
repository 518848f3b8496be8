import { samHeadsParity } from "../../../src/cli/commands/parity_run.ts";
import { assertEquals } from "../../assert.ts";
import { assertParityRows, MINI, miniBaseModel } from "../_mini.ts";

Deno.test("PromptEncoder, MaskDecoder and SAM2Base.forwardSamHeads() match the PyTorch reference on sam2-mini (points, box, point + mask)", async () => {
  // |ours - ref| <= 1e-4 + 1e-4 * max|ref| for every tensor (the comparison of `deno task parity`):
  // dense PE, prompt embeddings, decoder outputs, then _forward_sam_heads' gating, best-IoU
  // pick and object pointer.
  const rows = await samHeadsParity(await miniBaseModel(), MINI.pathname, 1e-4);
  assertEquals(rows.length, 1 + 3 * (2 + 4 + 7));
  assertParityRows("sam_heads", rows);
});
