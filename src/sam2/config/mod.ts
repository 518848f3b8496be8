/**
 * @module sam2/config: model configuration files (hydra/OmegaConf-style YAML) read into
 * typed, fully-resolved config trees.
 *
 * ```ts
 * import { loadModelConfig } from "./mod.ts";
 * const { model } = await loadModelConfig("configs/sam2.1/sam2.1_hiera_t.yaml");
 * console.log(model.image_encoder.trunk.stages); // [1, 2, 7, 2]
 * ```
 */
export { ConfigError, formatPos, type SourcePos } from "./errors.ts";
export * from "./model_types.ts";
export * from "./model_schema.ts";
export * from "./load_model_config.ts";
export * from "./find_config.ts";
export { configPosition, knownTargets, targetSchema } from "./schema.ts";
export type { CheckProblem, FieldSpec, TargetSchema, ValidateContext } from "./schema.ts";
export type { ResolveOptions } from "./interpolate.ts";
