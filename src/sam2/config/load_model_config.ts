/**
 * Reading a model configuration file: a released `configs/sam2{,.1}/sam2{,.1}_hiera_{t,s,b+,l}.yaml`, the
 * `mini.yaml` test config (with `trainer_model_extra` and `loss`), or a training config
 * whose `trainer.model` is a SAM2Train (then `trainer.loss.all` is its loss).
 */
import { ConfigError } from "./errors.ts";
import { resolveConfig, type ResolveOptions, type RMap, type RNode } from "./interpolate.ts";
import {
  lossSchema,
  SAM2_TRAIN_OPTION_KEYS,
  sam2BaseSchema,
  sam2TrainSchema,
  trainerModelExtraSchema,
} from "./model_schema.ts";
import type {
  ModelConfigFile,
  MultiStepMultiMasksAndIousConfig,
  SAM2BaseConfig,
  SAM2TrainConfig,
  TrainerModelExtra,
} from "./model_types.ts";
import { copyPositions, fail, parseTarget, type ValidateContext } from "./schema.ts";
import { suggestion } from "./errors.ts";
import { parseYamlTree } from "./yaml_tree.ts";

/** Options for {@link parseModelConfig} and {@link loadModelConfig}. */
export type ModelConfigOptions = ResolveOptions;

function entry(map: RMap, key: string): RNode | undefined {
  return map.entries.find((e) => e.key === key)?.value;
}

/** Splits a SAM2Train node into the SAM2Base model and the training-only options. */
export function splitSam2Train(
  cfg: SAM2TrainConfig,
): { model: SAM2BaseConfig; extra: TrainerModelExtra } {
  const base: Record<string, unknown> = {};
  const extra: Record<string, unknown> = { _target_: "training.model.sam2.SAM2Train" };
  const trainKeys = new Set<string>(SAM2_TRAIN_OPTION_KEYS);
  for (const [k, v] of Object.entries(cfg)) {
    if (k === "_target_") continue;
    (trainKeys.has(k) ? extra : base)[k] = v;
  }
  const model = { _target_: "sam2.modeling.sam2_base.SAM2Base", ...base } as SAM2BaseConfig;
  copyPositions(cfg, model);
  copyPositions(cfg, extra);
  return { model, extra: extra as unknown as TrainerModelExtra };
}

/**
 * Parses model configuration text into the typed, fully-resolved model tree.
 * @param text YAML text.
 * @param file The name used in error positions.
 * @throws {ConfigError} for invalid YAML, unknown `_target_`s or keys, wrong types, missing
 *   (`???`) values or failed cross-field checks, always with file:line:col.
 */
export function parseModelConfig(
  text: string,
  file: string,
  options: ModelConfigOptions = {},
): ModelConfigFile {
  const yf = parseYamlTree(text, file);
  const root = resolveConfig(yf, options);
  const ctx: ValidateContext = { source: text };
  const modelNode = entry(root, "model");
  if (modelNode) {
    const known = ["model", "trainer_model_extra", "loss"];
    for (const e of root.entries) {
      if (!known.includes(e.key)) {
        fail(
          ctx,
          e.keyPos,
          `Unknown top-level key "${e.key}" in a model config (expected ${known.join(", ")}).${
            suggestion(e.key, known)
          }`,
        );
      }
    }
    const m = parseTarget<SAM2BaseConfig | SAM2TrainConfig>(
      modelNode,
      [sam2BaseSchema, sam2TrainSchema],
      ctx,
      "model",
    );
    const out: ModelConfigFile = { file, model: m as SAM2BaseConfig };
    if (m._target_ === "training.model.sam2.SAM2Train") {
      const { model, extra } = splitSam2Train(m);
      out.model = model;
      out.trainerModelExtra = extra;
    }
    const extraNode = entry(root, "trainer_model_extra");
    if (extraNode) {
      out.trainerModelExtra = parseTarget<TrainerModelExtra>(
        extraNode,
        [trainerModelExtraSchema],
        ctx,
        "trainer_model_extra",
      );
    }
    const lossNode = entry(root, "loss");
    if (lossNode) {
      out.loss = parseTarget<MultiStepMultiMasksAndIousConfig>(lossNode, [lossSchema], ctx, "loss");
    }
    return out;
  }
  const trainer = entry(root, "trainer");
  const trainerModel = trainer?.kind === "map" ? entry(trainer, "model") : undefined;
  if (trainer?.kind === "map" && trainerModel) {
    const m = parseTarget<SAM2TrainConfig | SAM2BaseConfig>(
      trainerModel,
      [sam2TrainSchema, sam2BaseSchema],
      ctx,
      "trainer.model",
    );
    const out: ModelConfigFile = { file, model: m as SAM2BaseConfig };
    if (m._target_ === "training.model.sam2.SAM2Train") {
      const { model, extra } = splitSam2Train(m);
      out.model = model;
      out.trainerModelExtra = extra;
    }
    const loss = entry(trainer, "loss");
    const all = loss?.kind === "map" ? entry(loss, "all") : undefined;
    if (all) {
      out.loss = parseTarget<MultiStepMultiMasksAndIousConfig>(
        all,
        [lossSchema],
        ctx,
        "trainer.loss.all",
      );
    }
    return out;
  }
  throw new ConfigError(
    root.pos,
    'No model found: expected a top-level "model:" (model config) or "trainer: model:" ' +
      "(training config)",
    text,
  );
}

/**
 * Reads a model configuration file (see {@link parseModelConfig}).
 * @throws {ConfigError} as parseModelConfig; a missing file is a `Deno.errors.NotFound` whose
 *   message names the path.
 */
export async function loadModelConfig(
  path: string | URL,
  options: ModelConfigOptions = {},
): Promise<ModelConfigFile> {
  const file = path instanceof URL ? path.pathname : path;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Model config not found: ${file}`);
    }
    throw e;
  }
  return parseModelConfig(text, file, options);
}
