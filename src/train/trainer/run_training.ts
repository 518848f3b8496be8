/**
 * One training run from a training config file (the reference's `train.py` + `Trainer`): read
 * and check the config and data paths, build the model task, print the plan, train.
 */
import { existsSync } from "node:fs";
import { initGpu } from "../../gpu/mod.ts";
import {
  type BatchedVideoDatapoint,
  ClipLoader,
  type ClipLoaderOptions,
  loaderOptionsFromReferenceConfig,
} from "../../data/mod.ts";
import type { Module } from "../../nn/module.ts";
import { SAM2Base } from "../../sam2/sam2_base.ts";
import { findConfigFile, splitSam2Train } from "../../sam2/config/mod.ts";
import { buildParamGroups } from "../config/param_groups.ts";
import { loadTrainingConfig } from "../config/load_training_config.ts";
import type { TrainingConfig } from "../config/training_types.ts";
import { checkDataPaths } from "./data_paths.ts";
import { paramOwners } from "./module_classes.ts";
import { resolvePath } from "./paths.ts";
import type { TrainData, TrainTask } from "./train_task.ts";
import { type ResumeMode, Trainer, type TrainerOptions, type TrainResult } from "./trainer.ts";
import { formatTrainingPlan, planFrom, type TrainingPlan } from "./training_plan.ts";

/** Raised when the config is fine but this build cannot train it (says what is missing). */
export class TrainingUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingUnavailableError";
  }
}

/** Raised before training when the config names data that is not there. */
export class TrainingDataError extends Error {
  constructor(readonly problems: string[]) {
    super(`Cannot train: the config names inputs that are not there:\n  ${problems.join("\n  ")}`);
    this.name = "TrainingDataError";
  }
}

/** What a task or data factory gets besides the config. */
export interface TrainingContext {
  /** The reference's `(seed_value + rank) * max_epochs`. */
  seed: number;
  rank: number;
  worldSize: number;
  /** Base folder of relative paths. */
  cwd: string;
}

/** Data with an optional `close` (a `ClipLoader` stops its Workers). */
export type ClosableTrainData<B> = TrainData<B> & { close?(): void };

/** Options of {@link runTraining}. */
export interface RunTrainingOptions<B = BatchedVideoDatapoint> {
  /** The trainer YAML (a path, or a config name as the reference takes it). */
  config: string;
  /** Hydra-style `key=value` overrides (`scratch.num_epochs=2`). @default [] */
  overrides?: string[];
  /**
   * Folder relative paths (the config file, paths inside it) are resolved against: where the
   * user started the command (`INIT_CWD` under `deno task`). @default Deno.cwd()
   */
  cwd?: string;
  /** @default "auto" (the reference's: continue `checkpoint.pt` when it exists) */
  resume?: ResumeMode;
  /** Stop after this many optimizer steps in total. */
  maxSteps?: number;
  /** Validate and print the plan, do not train. @default false */
  dryRun?: boolean;
  /**
   * Where the loader runs the pixel transforms: "auto" (default) picks the GPU on real GPUs and
   * the CPU on lavapipe. GPU-made batches stay on the GPU as the model's input (no read back).
   */
  pixels?: "cpu" | "gpu" | "auto";
  /** @default 0 */
  rank?: number;
  /** @default 1 */
  worldSize?: number;
  /** Gradient all-reduce for `worldSize` > 1 (see TrainerOptions.allReduceGradients). */
  allReduceGradients?: TrainerOptions<B>["allReduceGradients"];
  /** Loader Workers (overrides `num_workers`). */
  workers?: number;
  /** Where readable lines go. @default console.log */
  print?: (line: string) => void;
  /**
   * Builds the model and its loss from the config. Without one, the SAM 2 training task is
   * used, and it is not wired in yet: runTraining then throws {@link TrainingUnavailableError}
   * after validating and printing the plan.
   */
  createTask?: (cfg: TrainingConfig, ctx: TrainingContext) => Promise<TrainTask<B>> | TrainTask<B>;
  /** Builds the data. @default a ClipLoader over `trainer.data.train` */
  createData?: (
    cfg: TrainingConfig,
    ctx: TrainingContext,
  ) => Promise<ClosableTrainData<B>> | ClosableTrainData<B>;
}

/** What {@link runTraining} did. */
export interface TrainingRunReport {
  plan: TrainingPlan;
  /** Null for a dry run. */
  result: TrainResult | null;
}

/** The message shown while the SAM 2 training task is missing. */
export const SAM2_TRAIN_UNAVAILABLE =
  "Training SAM 2 is not available in this version: the SAM2Train task (training-time prompt " +
  "simulation in src/sam2/train) and its loss (src/train/loss) are not wired into the trainer " +
  "yet. The config, data paths and plan above were checked; nothing was trained.";

/** The config file: a path from `cwd`, else a config name inside this project's configs/. */
function findConfig(config: string, cwd: string): string {
  const abs = resolvePath(config, cwd);
  if (existsSync(abs)) return abs;
  try {
    return findConfigFile(config);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Deno.errors.NotFound(
      `Training config "${config}" not found: no file "${abs}", and no config of that name in ` +
        `the project's configs/ folder`,
    );
  }
}

function loaderOptions(cfg: TrainingConfig, ctx: TrainingContext, workers?: number) {
  const train = cfg.trainer.data?.train;
  if (!train) throw new TrainingDataError(["trainer.data.train is not set"]);
  let opts: ClipLoaderOptions;
  try {
    opts = loaderOptionsFromReferenceConfig(train as unknown as Record<string, unknown>, {
      seed: ctx.seed,
      workers,
      rank: ctx.rank,
      worldSize: ctx.worldSize,
    });
  } catch (e) {
    throw new TrainingDataError([e instanceof Error ? e.message : String(e)]);
  }
  return checkDataPaths(opts, ctx.cwd);
}

/**
 * Reads the config, checks it and the data paths, prints the plan and (unless `dryRun`) trains.
 * The log folder defaults to `<cwd>/sam2_logs/<config>` as the reference's train.py.
 *
 * @throws {ConfigError} for a bad config (file:line:col), {@link TrainingDataError} for missing
 *   data, {@link TrainingUnavailableError} when no task can train this model yet,
 *   `NonFiniteLossError` when the loss diverges.
 */
export async function runTraining<B = BatchedVideoDatapoint>(
  opts: RunTrainingOptions<B>,
): Promise<TrainingRunReport> {
  const cwd = opts.cwd ?? Deno.cwd();
  const print = opts.print ?? ((l: string) => console.log(l));
  const rank = opts.rank ?? 0;
  const worldSize = opts.worldSize ?? 1;
  const cfg = await loadTrainingConfig(findConfig(opts.config, cwd), {
    overrides: opts.overrides,
    experimentLogDir: resolvePath(`sam2_logs/${opts.config}`, cwd),
  });
  const t = cfg.trainer;
  t.checkpoint.save_dir = resolvePath(t.checkpoint.save_dir, cwd);
  t.logging.log_dir = resolvePath(t.logging.log_dir, cwd);
  const ctx: TrainingContext = { seed: (t.seed_value + rank) * t.max_epochs, rank, worldSize, cwd };
  const notes: string[] = [];
  if (t.mode !== "train_only") {
    notes.push(`mode "${t.mode}": validation is not implemented; training runs as train_only`);
  }
  if (t.optim?.amp?.enabled) {
    notes.push(`amp (${t.optim.amp.amp_dtype}) requested: training runs in float32`);
  }
  if (worldSize > 1 && !opts.allReduceGradients) {
    notes.push(
      `world size ${worldSize}: no gradient all-reduce given; the run will refuse to start`,
    );
  }
  const problems: string[] = [];
  const init = t.checkpoint.model_weight_initializer;
  if (init) {
    const p = resolvePath(init.state_dict.checkpoint_path, cwd);
    if (!existsSync(p)) {
      problems.push(
        `checkpoint.model_weight_initializer.state_dict.checkpoint_path: "${p}" does not exist`,
      );
    }
  }

  const ckPath = `${t.checkpoint.save_dir}/checkpoint.pt`;
  const ckExists = existsSync(ckPath) || (t.checkpoint.resume_from !== null &&
    existsSync(resolvePath(t.checkpoint.resume_from, cwd)));
  if (opts.resume === "require" && !ckExists) {
    problems.push(`resume: there is no checkpoint at "${ckPath}" to continue`);
  } else if (opts.resume === "refuse" && existsSync(ckPath)) {
    problems.push(
      `"${ckPath}" already exists: resume it (--resume) or choose another ` +
        `launcher.experiment_log_dir`,
    );
  } else if ((opts.resume ?? "auto") !== "refuse" && ckExists) {
    notes.push(`resumes from ${existsSync(ckPath) ? ckPath : t.checkpoint.resume_from}`);
  }

  // The data: checked for every run (dry or not) when no custom data is given.
  let data: ClosableTrainData<B> | null = null;
  const datasets: TrainingPlan["datasets"] = [];
  let batchesPerEpoch: number | null = null;
  let loaderOpts: ClipLoaderOptions | null = null;
  if (!opts.createData) {
    const checked = loaderOptions(cfg, ctx, opts.workers);
    problems.push(...checked.problems);
    loaderOpts = checked.options;
    loaderOpts.datasets.forEach((d, i) => {
      for (const one of Array.isArray(d) ? d : [d]) {
        const raw = one.raw as unknown as Record<string, unknown>;
        datasets.push({
          kind: String(raw.kind),
          paths: ["imgFolder", "gtFolder", "path", "fileListTxt"].filter((k) => raw[k])
            .map((k) => String(raw[k])),
          batchSize: loaderOpts!.batchSizes[i] ?? loaderOpts!.batchSizes[0],
        });
      }
    });
  }

  if (problems.length) throw new TrainingDataError(problems);
  await initGpu();
  let model: Module;
  let task: TrainTask<B> | null = null;
  if (opts.createTask) {
    task = await opts.createTask(cfg, ctx);
    model = task.model;
  } else {
    // The plan needs the parameter list: SAM2Base has SAM2Train's parameters exactly.
    model = new SAM2Base(splitSam2Train(t.model).model);
  }
  const groups = buildParamGroups(
    paramOwners(model, { classes: task?.moduleClasses }),
    {
      options: t.optim?.options ?? null,
      param_group_modifiers: t.optim?.param_group_modifiers ?? null,
    },
  );
  try {
    if (opts.createData) data = await opts.createData(cfg, ctx);
    else if (loaderOpts) {
      const pixels = { pixels: opts.pixels ?? "auto", imagesOnGpu: true } as const;
      const loader = await ClipLoader.create(
        opts.dryRun || !task ? { ...loaderOpts, workers: 0, pixels: "cpu" } : {
          ...loaderOpts,
          ...pixels,
        },
      );
      data = loader as unknown as ClosableTrainData<B>;
    }
    if (data) batchesPerEpoch = data.numBatches(0);
    const plan: TrainingPlan = {
      ...planFrom(cfg, model, groups),
      ...(task ? { modelTarget: `${model.constructor.name} (the given task's model)` } : {}),
      datasets,
      batchesPerEpoch,
      notes,
    };
    if (rank === 0) print(formatTrainingPlan(plan));
    if (opts.dryRun) {
      if (!task && rank === 0) print(`note:    ${SAM2_TRAIN_UNAVAILABLE}`);
      if (rank === 0) print("dry run: nothing trained");
      return { plan, result: null };
    }
    if (!task) throw new TrainingUnavailableError(SAM2_TRAIN_UNAVAILABLE);
    const trainer = new Trainer<B>({
      task,
      data: data!,
      maxEpochs: t.max_epochs,
      optim: t.optim,
      checkpoint: t.checkpoint,
      logDir: t.logging.log_dir,
      logFreq: t.logging.log_freq,
      maxSteps: opts.maxSteps,
      resume: opts.resume,
      rank,
      worldSize,
      allReduceGradients: opts.allReduceGradients,
      cwd,
      print,
    });
    const result = await trainer.run();
    return { plan, result };
  } finally {
    data?.close?.();
    if (!task) model.dispose();
  }
}
