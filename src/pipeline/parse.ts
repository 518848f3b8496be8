import type { SpecError } from "./errors.ts";
import { SourceText } from "./source.ts";
import { buildPipeline, type ParseOptions, type Pipeline } from "./spec.ts";
import { parseLocated } from "./yaml_tree.ts";

/**
 * Parses and validates a pipeline's text. Throws `SpecErrors` with every problem found.
 *
 * @example
 * ```ts
 * const p = parsePipeline("stages:\n  a:\n    run: echo hi > ${outs.x}\n    outs: {x: a.txt}\n", {
 *   file: "/tmp/p.yaml", registry: new KindRegistry(), checkInputs: false,
 * });
 * p.groups[0].instances![0].outs.x; // "a.txt"
 * ```
 */
export function parsePipeline(text: string, opts: ParseOptions): Pipeline {
  const src = new SourceText(opts.file, text);
  const errors: SpecError[] = [];
  const tree = parseLocated(src, errors);
  return buildPipeline(src, tree, errors, opts);
}
