/**
 * Reading a model configuration file: a released `configs/sam2{,.1}/sam2{,.1}_hiera_{t,s,b+,l}.yaml`, the
 * `mini.yaml` test config (with `trainer_model_extra` and `loss`), or a training config
 * whose `trainer.model` is a SAM2Train (then `trainer.loss.all` is its loss).
 */
import { findConfigFile } from "./find_config.ts";
import { ConfigError } from "./errors.ts";
import { resolveConfig, type ResolveOptions, type RMap, type RNode } from "./interpolate.ts";
import {
  lossSchema,
  SAM2_TRAIN_OPTION_KEYS,
  sam2BaseSchema,
  sam2TrainSchema,
  sam2VideoPredictorSchema,
  sam2VideoPredictorVOSSchema,
  trainerModelExtraSchema,
  VIDEO_PREDICTOR_OPTION_KEYS,
} from "./model_schema.ts";
import type {
  ModelConfigFile,
  MultiStepMultiMasksAndIousConfig,
  SAM2BaseConfig,
  SAM2TrainConfig,
  SAM2VideoPredictorConfig,
  TrainerModelExtra,
  VideoPredictorExtra,
} from "./model_types.ts";
import { copyPositions, fail, parseTarget, type ValidateContext } from "./schema.ts";
import { suggestion } from "./errors.ts";
import { parseYamlTree } from "./yaml_tree.ts";

/** Options for {@link parseModelConfig} and {@link loadModelConfig}. */
export type ModelConfigOptions = ResolveOptions;

function entry(map: RMap, key: string): RNode | undefined {
  return map.entries.find((e) => e.key === key)?.value;
}

function splitOff(
  cfg: { _target_: string },
  keys: readonly string[],
): { base: SAM2BaseConfig; extra: Record<string, unknown> } {
  const base: Record<string, unknown> = {};
  const extra: Record<string, unknown> = { _target_: cfg._target_ };
  const own = new Set<string>(keys);
  for (const [k, v] of Object.entries(cfg)) {
    if (k === "_target_") continue;
    (own.has(k) ? extra : base)[k] = v;
  }
  const model = { _target_: "sam2.modeling.sam2_base.SAM2Base", ...base } as SAM2BaseConfig;
  copyPositions(cfg, model);
  copyPositions(cfg, extra);
  return { base: model, extra };
}

/** Splits a SAM2Train node into the SAM2Base model and the training-only options. */
export function splitSam2Train(
  cfg: SAM2TrainConfig,
): { model: SAM2BaseConfig; extra: TrainerModelExtra } {
  const { base, extra } = splitOff(cfg, SAM2_TRAIN_OPTION_KEYS);
  return { model: base, extra: extra as unknown as TrainerModelExtra };
}

/** Splits a SAM2VideoPredictor(VOS) node into the SAM2Base model and the predictor options. */
export function splitVideoPredictor(
  cfg: SAM2VideoPredictorConfig,
): { model: SAM2BaseConfig; extra: VideoPredictorExtra } {
  const { base, extra } = splitOff(cfg, VIDEO_PREDICTOR_OPTION_KEYS);
  return { model: base, extra: extra as unknown as VideoPredictorExtra };
}

type AnyModel = SAM2BaseConfig | SAM2TrainConfig | SAM2VideoPredictorConfig;
const MODEL_SCHEMAS = [
  sam2BaseSchema,
  sam2TrainSchema,
  sam2VideoPredictorSchema,
  sam2VideoPredictorVOSSchema,
];

function modelParts(m: AnyModel, file: string): ModelConfigFile {
  if (m._target_ === "training.model.sam2.SAM2Train") {
    const { model, extra } = splitSam2Train(m);
    return { file, model, trainerModelExtra: extra };
  }
  if (m._target_ !== "sam2.modeling.sam2_base.SAM2Base") {
    const { model, extra } = splitVideoPredictor(m);
    return { file, model, videoPredictor: extra };
  }
  return { file, model: m };
}

/** Options for {@link videoPredictorOverrides}. */
export interface VideoPredictorOverrideOptions {
  /** Add the reference's post-processing settings. @default true */
  applyPostprocessing?: boolean;
  /** Use SAM2VideoPredictorVOS (compiled in the reference). @default false */
  vosOptimized?: boolean;
}

/**
 * The overrides `build_sam2_video_predictor` composes the config with (pass them as
 * `overrides` to {@link loadModelConfig}), so a released config loads as the predictor the
 * reference's `tools/vos_inference.py` runs.
 */
export function videoPredictorOverrides(options: VideoPredictorOverrideOptions = {}): string[] {
  const out = options.vosOptimized
    ? [
      "++model._target_=sam2.sam2_video_predictor.SAM2VideoPredictorVOS",
      "++model.compile_image_encoder=True",
    ]
    : ["++model._target_=sam2.sam2_video_predictor.SAM2VideoPredictor"];
  if (options.applyPostprocessing ?? true) {
    out.push(
      "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
      "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
      "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
      "++model.binarize_mask_from_pts_for_mem_enc=true",
      "++model.fill_hole_area=8",
    );
  }
  return out;
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
    const m = parseTarget<AnyModel>(modelNode, MODEL_SCHEMAS, ctx, "model");
    const out = modelParts(m, file);
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
    const m = parseTarget<AnyModel>(trainerModel, MODEL_SCHEMAS, ctx, "trainer.model");
    const out = modelParts(m, file);
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
 * @param path A file path, or a config name as the reference takes it
 *   (`configs/sam2.1/sam2.1_hiera_t.yaml`; see {@link findConfigFile}).
 * @throws {ConfigError} as parseModelConfig; `Deno.errors.NotFound` naming the places tried.
 */
export async function loadModelConfig(
  path: string | URL,
  options: ModelConfigOptions = {},
): Promise<ModelConfigFile> {
  const file = path instanceof URL ? path.pathname : findConfigFile(path);
  const text = await Deno.readTextFile(file);
  return parseModelConfig(text, file, options);
}
