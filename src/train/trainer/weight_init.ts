/**
 * The trainer's `checkpoint.model_weight_initializer`: the reference's
 * `load_state_dict_into_model(state_dict=load_checkpoint_and_apply_kernels(...))` partial, read
 * from the typed config and applied to our model.
 */
import { type CheckpointKernel, loadModelWeights } from "../../checkpoint/mod.ts";
import type { Module } from "../../nn/module.ts";
import type { LoadStateDictIntoModelConfig } from "../config/training_types.ts";
import { resolvePath } from "./paths.ts";

/** What {@link initializeModelWeights} loaded. */
export interface WeightInitReport {
  /** The checkpoint file (resolved). */
  file: string;
  /** Keys copied into the model. */
  loaded: number;
  /** Model keys the checkpoint lacked and the config allowed to miss. */
  missing: string[];
}

/**
 * The reference's checkpoint kernels (`CkptExcludeKernel(key_pattern)`, and an include kernel
 * of the same form) from config nodes.
 * @throws {TypeError} for a kernel this project does not know.
 */
export function checkpointKernelsFromConfig(node: unknown, where: string): CheckpointKernel[] {
  if (node === null || node === undefined) return [];
  if (!Array.isArray(node)) throw new TypeError(`${where}: expected a list of kernels`);
  return node.map((k, i) => {
    const n = k as Record<string, unknown> | null;
    const target = typeof n?._target_ === "string" ? n._target_ : "";
    const patterns = n?.key_pattern;
    const list = Array.isArray(patterns) ? patterns.map(String) : [];
    if (target.endsWith("CkptExcludeKernel")) return { exclude: list };
    if (target.endsWith("CkptIncludeKernel")) return { include: list };
    throw new TypeError(
      `${where}[${i}]: unknown checkpoint kernel "${target}" (known: CkptExcludeKernel, ` +
        `CkptIncludeKernel with key_pattern: [globs])`,
    );
  });
}

/** Options for {@link initializeModelWeights}. */
export interface InitializeModelWeightsOptions {
  /** Folder relative `checkpoint_path`s are resolved against. @default Deno.cwd() */
  cwd?: string;
}

/**
 * Loads the initial weights named by a `model_weight_initializer` config into `model`: picks
 * `ckpt_state_dict_keys`, applies the kernels (those of `state_dict`, then the outer ones),
 * and checks keys like `load_state_dict_into_model` (unexpected keys and wrong shapes always
 * fail; missing keys fail when `strict`, unless matched by `ignore_missing_keys`).
 *
 * @throws {CheckpointError} naming the file and every offending key.
 */
export async function initializeModelWeights(
  model: Module,
  cfg: LoadStateDictIntoModelConfig,
  options: InitializeModelWeightsOptions = {},
): Promise<WeightInitReport> {
  const sdCfg = cfg.state_dict;
  const file = resolvePath(sdCfg.checkpoint_path, options.cwd);
  const kernels = [
    ...checkpointKernelsFromConfig(
      sdCfg.checkpoint_kernels,
      "checkpoint.model_weight_initializer.state_dict.checkpoint_kernels",
    ),
    ...checkpointKernelsFromConfig(
      cfg.checkpoint_kernels,
      "checkpoint.model_weight_initializer.checkpoint_kernels",
    ),
  ];
  const target = new Map<string, readonly number[]>();
  for (const [k, t] of model.stateDict()) target.set(k, t.shape);
  const report = await loadModelWeights(file, target, {
    keys: sdCfg.ckpt_state_dict_keys,
    kernels,
    strict: cfg.strict,
    ignoreMissing: cfg.ignore_missing_keys ?? [],
    ignoreUnexpected: cfg.ignore_unexpected_keys ?? [],
  });
  model.loadStateDict(report.stateDict, { strict: false });
  return { file, loaded: report.stateDict.size, missing: report.missing };
}
