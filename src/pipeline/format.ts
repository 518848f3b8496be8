/**
 * The pipeline file format as one typed schema: validation and the published JSON Schema
 * (`pipelines/pipeline.schema.json`, see `pipelineJsonSchema()`) both come from here.
 */
import type { KindRegistry } from "./registry.ts";
import { type JsonSchema, s } from "./schema.ts";

/** The lock-file and pipeline-format version this engine writes and reads. */
export const FORMAT_VERSION = 1;

/** Stage and output names: letters, digits, "_" and "-". */
export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const paths = s.array(s.string({ minLength: 1 }));

/** One stage, as written (before `${...}` references are resolved). */
export const stageSchema = s.object({
  desc: s.optional(s.string({ desc: "What the stage is for" })),
  uses: s.optional(
    s.string({ desc: "A registered stage kind (extract-frames, build-dataset, ...)" }),
  ),
  run: s.optional(s.string({ desc: "Shell command (sh -c) run from the project root" })),
  cmd: s.optional(s.string({ desc: "Same as run (DVC's name)" })),
  with: s.optional(s.any({ desc: "Parameters of the kind (checked against its schema)" })),
  deps: s.optional(
    s.array(s.string({ minLength: 1 }), {
      desc: "Input files or folders (hashed by content); code a run command executes belongs here",
    }),
  ),
  outs: s.optional(s.oneOf(
    s.record(s.string({ minLength: 1 }), { keyPattern: NAME_RE }),
    paths,
    { desc: "Outputs: name -> path (or a list of paths); run commands write ${outs.NAME}" },
  )),
  needs: s.optional(
    s.array(s.string(), { desc: "Stages that must run first (besides references)" }),
  ),
  foreach: s.optional(s.oneOf(
    s.array(s.any()),
    s.string(),
    { desc: "Expand into one stage per item: a list, a ${vars.x} list, or a glob of files" },
  )),
  frozen: s.optional(s.boolean({ desc: "Never run; use the outputs as they are" })),
  always_changed: s.optional(s.boolean({ desc: "Always run, even when nothing changed" })),
  tools: s.optional(s.array(s.enum(["ffmpeg", "ffprobe", "deno"]), {
    desc: "External tools whose versions enter the key",
  })),
  env: s.optional(s.record(s.oneOf(s.string(), s.any()), { desc: "Environment of a run command" })),
}, { what: "a stage" });

/** A whole pipeline file. */
export const pipelineSchema = s.object({
  schema: s.optional(s.int({ min: 1, max: FORMAT_VERSION, desc: "Format version" })),
  name: s.optional(s.string({ desc: "Pipeline name (defaults to the file name)" })),
  desc: s.optional(s.string()),
  vars: s.optional(s.record(s.any(), {
    keyPattern: NAME_RE,
    desc: "Values used as ${vars.NAME}; override with --var NAME=VALUE",
  })),
  stages: s.record(stageSchema, { keyPattern: NAME_RE, desc: "Stages by name" }),
}, { what: "the pipeline" });

/** The JSON Schema of the pipeline format, with each registered kind's `with:` parameters. */
export function pipelineJsonSchema(registry: KindRegistry): JsonSchema {
  const stage = structuredClone(stageSchema.json) as JsonSchema & {
    properties: Record<string, JsonSchema>;
  };
  stage.properties.uses = { ...stage.properties.uses, enum: registry.names() };
  stage.allOf = registry.all().map((k) => ({
    if: { properties: { uses: { const: k.name } }, required: ["uses"] },
    then: {
      properties: {
        with: { ...k.params.json, description: k.description },
        outs: {
          type: "object",
          properties: Object.fromEntries(
            Object.entries(k.outputs).map(([n, t]) => [n, { type: "string", description: t }]),
          ),
          required: Object.keys(k.outputs),
          additionalProperties: false,
        },
      },
    },
  }));
  stage.oneOf = [{ required: ["uses"] }, { required: ["run"] }, { required: ["cmd"] }];
  const top = structuredClone(pipelineSchema.json) as JsonSchema & {
    properties: Record<string, JsonSchema>;
  };
  top.properties.stages = {
    ...top.properties.stages,
    additionalProperties: stage,
  };
  return allowReferences({
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://sam2-deno.dev/pipeline.schema.json",
    title: "sam2 pipeline",
    ...top,
  }) as JsonSchema;
}

/** Numbers and booleans may also be written as one `${...}` reference (resolved later). */
function allowReferences(j: unknown): unknown {
  if (Array.isArray(j)) return j.map(allowReferences);
  if (j === null || typeof j !== "object") return j;
  const o = Object.fromEntries(
    Object.entries(j as Record<string, unknown>).map(([k, v]) => [k, allowReferences(v)]),
  );
  if (o.type === "integer" || o.type === "number" || o.type === "boolean" || o.enum) {
    const { description, default: def, ...rest } = o;
    return {
      ...(description ? { description } : {}),
      ...(def !== undefined ? { default: def } : {}),
      anyOf: [rest, { type: "string", pattern: "^\\$\\{[^}]+\\}$" }],
    };
  }
  return o;
}

/** The text of `pipelines/pipeline.schema.json` (what `deno run -A pipelines/schema.ts` writes). */
export function pipelineJsonSchemaText(registry: KindRegistry): string {
  return JSON.stringify(pipelineJsonSchema(registry), null, 2) + "\n";
}
