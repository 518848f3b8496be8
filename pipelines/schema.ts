/**
 * Writes `pipelines/pipeline.schema.json`, the JSON Schema of pipeline files, from the typed
 * schema in src/pipeline/format.ts and the built-in kinds' parameter schemas (a test checks
 * the file stays in sync).
 *
 * @example
 * ```sh
 * deno run -A pipelines/schema.ts
 * ```
 */
import { builtinRegistry, pipelineJsonSchemaText } from "../src/pipeline/mod.ts";

const out = new URL("./pipeline.schema.json", import.meta.url);
await Deno.writeTextFile(out, pipelineJsonSchemaText(builtinRegistry()));
console.log(`wrote ${out.pathname}`);
