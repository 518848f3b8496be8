import { assert, assertEquals } from "../assert.ts";
import { builtinRegistry, pipelineJsonSchemaText } from "../../src/pipeline/mod.ts";

Deno.test("pipelines/pipeline.schema.json is in sync with the typed schema (deno run -A pipelines/schema.ts)", async () => {
  const file = await Deno.readTextFile(
    new URL("../../pipelines/pipeline.schema.json", import.meta.url),
  );
  assertEquals(file, pipelineJsonSchemaText(builtinRegistry()));
});

Deno.test("pipelineJsonSchema() lists each kind's parameters and required outputs", () => {
  const j = JSON.parse(pipelineJsonSchemaText(builtinRegistry()));
  const stage = j.properties.stages.additionalProperties;
  assertEquals(stage.properties.uses.anyOf[0].enum, [
    "build-dataset",
    "eval",
    "extract-frames",
    "train",
  ]);
  const ef = stage.allOf.find((x: { if: { properties: { uses: { const: string } } } }) =>
    x.if.properties.uses.const === "extract-frames"
  );
  assert(ef, "extract-frames is described");
  assertEquals(ef.then.properties.with.properties.sample_rate.default, 4);
  assertEquals(ef.then.properties.with.required, ["video"]);
  assertEquals(ef.then.properties.outs.required, ["dir"]);
  assertEquals(stage.additionalProperties, false);
});
