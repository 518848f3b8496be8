/**
 * Reading a training config file (the reference's `configs/sam2.1_training/*.yaml` form):
 * `trainer:` (a Trainer with model, data, optim, loss, logging, checkpoint), `launcher:`,
 * `submitit:`, and free-form sections (`scratch:`, `dataset:`, `vos:`) that exist to be
 * interpolated from.
 */
import { findConfigFile } from "../../sam2/config/find_config.ts";
import { ConfigError } from "../../sam2/config/errors.ts";
import { resolveConfig, type RNode } from "../../sam2/config/interpolate.ts";
import { fail, parseTarget, type ValidateContext } from "../../sam2/config/schema.ts";
import { parseYamlTree, type YMap } from "../../sam2/config/yaml_tree.ts";
import { launcherSpec, submititSpec, trainerSchema } from "./training_schema.ts";
import type {
  LauncherConfig,
  SubmititConfig,
  TrainerConfig,
  TrainingConfig,
} from "./training_types.ts";

/** Options for {@link parseTrainingConfig} and {@link loadTrainingConfig}. */
export interface TrainingConfigOptions {
  /**
   * Hydra-style overrides applied before resolving (`scratch.num_epochs=2`,
   * `++trainer.seed_value=5`; values are YAML).
   * @default []
   */
  overrides?: string[];
  /**
   * The log directory used when `launcher.experiment_log_dir` is null, as train.py does.
   * @default `<cwd>/sam2_logs/<file>`
   */
  experimentLogDir?: string;
}

function logDirIsUnset(root: YMap): boolean {
  const launcher = root.entries.find((e) => e.key === "launcher")?.value;
  if (!launcher) return true;
  if (launcher.kind !== "map") return false;
  const v = launcher.entries.find((e) => e.key === "experiment_log_dir")?.value;
  return v === undefined || (v.kind === "scalar" && v.value === null);
}

function freeForm(node: RNode): unknown {
  if (node.kind === "scalar") return node.missing ? "???" : node.value;
  if (node.kind === "seq") return node.items.map(freeForm);
  return Object.fromEntries(node.entries.map((e) => [e.key, freeForm(e.value)]));
}

/**
 * Parses training config text into a typed {@link TrainingConfig}.
 * @throws {ConfigError} with file:line:col for invalid YAML, unknown targets or keys, wrong
 *   types, unresolvable interpolations, missing (`???`) values.
 */
export function parseTrainingConfig(
  text: string,
  file: string,
  options: TrainingConfigOptions = {},
): TrainingConfig {
  const yf = parseYamlTree(text, file);
  const overrides = [...(options.overrides ?? [])];
  if (
    logDirIsUnset(yf.root) && !overrides.some((o) => /^\+*launcher\.experiment_log_dir=/.test(o))
  ) {
    const dir = options.experimentLogDir ?? `${Deno.cwd()}/sam2_logs/${file}`;
    overrides.unshift(`++launcher.experiment_log_dir=${JSON.stringify(dir)}`);
  }
  const root = resolveConfig(yf, { overrides });
  const ctx: ValidateContext = { source: text };
  const get = (k: string) => root.entries.find((e) => e.key === k)?.value;
  const trainerNode = get("trainer");
  if (!trainerNode) {
    throw new ConfigError(
      root.pos,
      'No "trainer:" section: a training config needs trainer (a training.trainer.Trainer)',
      text,
    );
  }
  const trainer = parseTarget<TrainerConfig>(trainerNode, [trainerSchema], ctx, "trainer");
  const launcherNode = get("launcher");
  const launcher: LauncherConfig = launcherNode
    ? launcherSpec.parse(launcherNode, ctx, "launcher")
    : launcherSpec.default!();
  const submititNode = get("submitit");
  const submitit: SubmititConfig = submititNode
    ? submititSpec.parse(submititNode, ctx, "submitit")
    : submititSpec.default!();
  const sections: Record<string, unknown> = {};
  for (const e of root.entries) {
    if (["trainer", "launcher", "submitit"].includes(e.key)) continue;
    if (e.key.startsWith("_")) fail(ctx, e.keyPos, `Unexpected top-level key "${e.key}"`);
    sections[e.key] = freeForm(e.value);
  }
  return { file, trainer, launcher, submitit, sections };
}

/**
 * Reads a training config file (see {@link parseTrainingConfig}).
 * @param path A file path, or a config name as the reference takes it (see findConfigFile).
 * @throws {ConfigError} as parseTrainingConfig; `Deno.errors.NotFound` naming the places tried.
 */
export async function loadTrainingConfig(
  path: string | URL,
  options: TrainingConfigOptions = {},
): Promise<TrainingConfig> {
  const file = path instanceof URL ? path.pathname : findConfigFile(path);
  const text = await Deno.readTextFile(file);
  // train.py names the default log folder after the config name as given.
  const experimentLogDir = options.experimentLogDir ??
    `${Deno.cwd()}/sam2_logs/${path instanceof URL ? path.pathname : path}`;
  return parseTrainingConfig(text, file, { ...options, experimentLogDir });
}
