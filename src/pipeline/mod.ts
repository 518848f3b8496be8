/**
 * Declarative, content-hash-cached pipelines: YAML spec with positioned errors, DAG, BLAKE3
 * Merkle hashing with a stat cache, a content-addressed store, lock files, and a parallel
 * runner. Stage kinds plug in through `StageKind` and a `KindRegistry`.
 *
 * @example
 * ```ts
 * import { runPipeline, formatSummary } from "./mod.ts";
 * const summary = await runPipeline("pipelines/demo.yaml", { jobs: 2 });
 * console.log(formatSummary(summary));
 * ```
 * @module
 */
export * from "./errors.ts";
export * from "./kind.ts";
export * from "./registry.ts";
export * from "./builtin.ts";
export * from "./schema.ts";
export * from "./format.ts";
export * from "./spec.ts";
export * from "./parse.ts";
export * from "./load.ts";
export * from "./dag.ts";
export * from "./hash.ts";
export * from "./blake3_js.ts";
export * from "./hash_pool.ts";
export * from "./lazy_import.ts";
export * from "./tree.ts";
export * from "./store.ts";
export * from "./lockfile.ts";
export * from "./run_lock.ts";
export * from "./engine.ts";
export * from "./report.ts";
export * from "./runner.ts";
export * from "./status.ts";
export * from "./explain.ts";
export * from "./gc.ts";
export { extractFramesKind } from "./kinds/extract_frames.ts";
export { buildDatasetKind } from "./kinds/build_dataset.ts";
export { trainKind } from "./kinds/train.ts";
export { evalKind } from "./kinds/eval.ts";
