/**
 * The training loop with the reference trainer's semantics (`training/trainer.py`,
 * `train_epoch` / `_run_step`): per batch, zero the gradients, forward and loss, stop on a
 * non-finite loss, backward, set every param group's lr / weight decay from its schedules at
 * `where = (epoch + iter / iters_per_epoch) / max_epochs` (`OptimizerWrapper.step_schedulers`),
 * clip the global gradient norm, AdamW step. After every epoch rank 0 writes
 * `save_dir/checkpoint.pt` (and `checkpoint_<epoch>.pt` per `save_freq` / `save_list`),
 * atomically, in the reference's layout; a run resumes from `checkpoint.pt`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { gpu } from "../../gpu/runtime.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { backward, tidy, tidyAsync } from "../../tensor/mod.ts";
import { buildParamGroups, type ParamGroupOptions } from "../config/param_groups.ts";
import type { ScheduledParamGroup } from "../config/param_groups.ts";
import type { CheckpointConfig, OptimConfig } from "../config/training_types.ts";
import { AdamW } from "../optim/adamw.ts";
import { clipGradNorm, gradNorm } from "../optim/clip.ts";
import { paramOwners } from "./module_classes.ts";
import type { TrainData, TrainTask } from "./train_task.ts";
import {
  loadTrainerCheckpoint,
  restoreOptimizerState,
  trainerCheckpointTree,
  type TrainerProgress,
} from "./trainer_checkpoint.ts";
import { type StepRecord, TrainLog } from "./train_log.ts";
import { initializeModelWeights } from "./weight_init.ts";
import { fnmatch, savePt } from "../../checkpoint/mod.ts";
import { resolvePath } from "./paths.ts";

/** Raised when the loss is NaN or infinite (the reference's `FloatingPointError`). */
export class NonFiniteLossError extends Error {
  constructor(
    message: string,
    /** Optimizer steps done before the failing one. */
    readonly step: number,
    readonly epoch: number,
    /** The loss and its terms as read back. */
    readonly terms: Record<string, number>,
  ) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}

/** How a run treats an existing `save_dir/checkpoint.pt`. */
export type ResumeMode =
  /** Continue from it when it exists (the reference's behaviour, good for requeued jobs). */
  | "auto"
  /** Continue from it; fail when there is none. */
  | "require"
  /** Fail when one exists (never overwrite a run by accident); start fresh otherwise. */
  | "refuse";

/** Options of {@link Trainer}. */
export interface TrainerOptions<B> {
  task: TrainTask<B>;
  data: TrainData<B>;
  /** `trainer.max_epochs`. */
  maxEpochs: number;
  /** `trainer.optim` (AdamW, options with schedules, param_group_modifiers, gradient_clip). */
  optim: OptimConfig | null;
  /** `trainer.checkpoint`; `save_dir` null writes no checkpoints (tests, dry runs). */
  checkpoint: Partial<Omit<CheckpointConfig, "save_dir">> & { save_dir: string | null };
  /** Folder for log files (`trainer.logging.log_dir`); null: console only. */
  logDir: string | null;
  /** Log a step every this many batches (`logging.log_freq`). @default 10 */
  logFreq?: number;
  /** Stop after this many optimizer steps in total (a checkpoint is written there). */
  maxSteps?: number;
  /** @default "auto" */
  resume?: ResumeMode;
  /** This process's rank; only rank 0 writes logs and checkpoints. @default 0 */
  rank?: number;
  /** Number of processes; above 1 needs `allReduceGradients`. @default 1 */
  worldSize?: number;
  /**
   * Averages every parameter's `.grad` over the processes (DDP's all-reduce), called after
   * backward and before clipping. Required when `worldSize` > 1; no implementation ships yet
   * (the design names MPI through FFI).
   */
  allReduceGradients?: (params: readonly Tensor[]) => void | Promise<void>;
  /** Base folder for relative paths in the config. @default Deno.cwd() */
  cwd?: string;
  /** Options for param grouping (layer count of the layer-decayed module). */
  paramGroups?: ParamGroupOptions;
  /** Readable log lines go here. @default console.log */
  print?: (line: string) => void;
}

/** What a run did. */
export interface TrainResult {
  /** Progress at the end (as saved). */
  progress: TrainerProgress;
  /** True when `maxSteps` stopped the run before `maxEpochs`. */
  stoppedAtMaxSteps: boolean;
  /** The last step's loss (NaN when no step ran). */
  lastLoss: number;
  /** `checkpoint.pt`'s path, or null when no checkpoint was written. */
  checkpoint: string | null;
  /** Whether the run continued a checkpoint. */
  resumed: boolean;
}

/** Where a step is (for schedules and messages) and what it must compute. */
interface StepAt {
  epoch: number;
  iter: number;
  /** Batches in the epoch. */
  n: number;
  clipMax: number | null;
  /** Whether this step is logged (the gradient norm is read back). */
  logNow: boolean;
}

/** What a step leaves behind: numbers only (its tensors are freed with its scope). */
interface StepNumbers {
  /** The loss has no gradient: no update was made. */
  skipped: boolean;
  loss: number;
  terms: Record<string, number>;
  where: number;
  /** NaN unless logged. */
  gradNorm: number;
}

const ALLOWED_OPTIONS = new Set(["lr", "weight_decay"]);

/** The reference trainer's loop over one model, one optimizer and one training data source. */
export class Trainer<B> {
  readonly opts: TrainerOptions<B>;
  readonly groups: ScheduledParamGroup[];
  readonly optimizer: AdamW;
  readonly log: TrainLog;
  readonly rank: number;
  #params: Tensor[];
  #progress: TrainerProgress = {
    epoch: 0,
    steps: { train: 0, val: 0 },
    timeElapsed: 0,
    bestMeterValues: {},
  };
  /** Batches of `progress.epoch` already trained (mid-epoch checkpoints). */
  #epochIter = 0;
  #lastGood: string | null = null;

  constructor(opts: TrainerOptions<B>) {
    const world = opts.worldSize ?? 1;
    if (world > 1 && !opts.allReduceGradients) {
      throw new RangeError(
        `worldSize ${world}: data-parallel training needs a gradient all-reduce, and none is ` +
          `implemented yet; run one process (worldSize 1)`,
      );
    }
    if (!Number.isInteger(opts.rank ?? 0) || (opts.rank ?? 0) < 0 || (opts.rank ?? 0) >= world) {
      throw new RangeError(`rank ${opts.rank} is not in [0, ${world})`);
    }
    this.opts = opts;
    this.rank = opts.rank ?? 0;
    const model = opts.task.model;
    const optim = opts.optim;
    const adamw = optim?.optimizer ?? null;
    if (adamw && (adamw.amsgrad || adamw.maximize)) {
      throw new RangeError("optim.optimizer: amsgrad and maximize are not supported by our AdamW");
    }
    const owners = paramOwners(model, { classes: opts.task.moduleClasses });
    this.groups = buildParamGroups(
      owners,
      {
        options: optim?.options ?? null,
        param_group_modifiers: optim?.param_group_modifiers ?? null,
      },
      opts.paramGroups,
    );
    for (const g of this.groups) {
      for (const k of Object.keys(g.schedules)) {
        if (!ALLOWED_OPTIONS.has(k)) {
          throw new RangeError(
            `optim.options.${k}: only lr and weight_decay can be scheduled with our AdamW`,
          );
        }
      }
    }
    const byName = new Map(model.namedParameters());
    const defLr = adamw?.lr ?? 1e-3;
    const defWd = adamw?.weight_decay ?? 1e-2;
    this.optimizer = new AdamW(
      this.groups.map((g) => ({
        params: g.params.map((n) => byName.get(n)!),
        lr: defLr,
        weightDecay: defWd,
      })),
      {
        betas: adamw ? [adamw.betas[0], adamw.betas[1]] : undefined,
        eps: adamw?.eps,
      },
    );
    this.#params = model.parameters();
    const clip = optim?.gradient_clip;
    if (clip && clip.max_norm !== null && clip.norm_type !== 2) {
      throw new RangeError(`optim.gradient_clip.norm_type ${clip.norm_type}: only 2 is supported`);
    }
    this.log = new TrainLog({ dir: opts.logDir, rank: this.rank, print: opts.print });
    // The reference's Optimizer wrapper sets every scheduled value at where = 0 on creation.
    this.stepSchedulers(0);
  }

  /** Progress so far (epoch to run next, steps, time). */
  get progress(): TrainerProgress {
    return structuredClone(this.#progress);
  }

  /** `save_dir/checkpoint.pt`, or null without a save_dir. */
  get checkpointPath(): string | null {
    const dir = this.opts.checkpoint.save_dir;
    return dir === null ? null : join(dir, "checkpoint.pt");
  }

  /** Sets each group's lr / weight decay from its schedules at `where`. */
  stepSchedulers(where: number): void {
    this.groups.forEach((g, i) => {
      const og = this.optimizer.groups[i];
      if (g.schedules.lr) og.lr = g.schedules.lr(where);
      if (g.schedules.weight_decay) og.weightDecay = g.schedules.weight_decay(where);
    });
  }

  /**
   * Loads the starting state: a resume checkpoint when there is one (per `resume`), otherwise
   * the `model_weight_initializer` weights. Returns whether it resumed.
   */
  async load(): Promise<boolean> {
    const ck = this.opts.checkpoint;
    const path = this.checkpointPath;
    const mode = this.opts.resume ?? "auto";
    if (mode === "refuse" && path !== null && existsSync(path)) {
      throw new Deno.errors.AlreadyExists(
        `"${path}" already exists: resume it (--resume) or choose another ` +
          `launcher.experiment_log_dir / checkpoint.save_dir`,
      );
    }
    // `resume_from` seeds checkpoint.pt once (a requested resume, also in "refuse" mode).
    if (path && ck.resume_from && !existsSync(path) && this.rank === 0) {
      const src = resolvePath(ck.resume_from, this.opts.cwd);
      if (!existsSync(src)) throw new Deno.errors.NotFound(`resume_from "${src}" does not exist`);
      await Deno.mkdir(ck.save_dir!, { recursive: true });
      const tmp = `${path}.tmp-${Deno.pid}`;
      await Deno.copyFile(src, tmp);
      await Deno.rename(tmp, path);
    }
    const exists = path !== null && existsSync(path);
    if (mode === "require" && !exists) {
      throw new Deno.errors.NotFound(
        `Cannot resume: no checkpoint at "${path ?? "(no checkpoint.save_dir)"}"`,
      );
    }
    const skip = ck.skip_saving_parameters ?? [];
    const initAfterPreemption = ck.initialize_after_preemption ?? skip.length > 0;
    if (!exists) {
      // As the reference: parameters left out of checkpoints must be frozen, or a resumed run
      // would restart them from their initial values.
      const trained = this.opts.task.model.namedParameters()
        .filter(([n, p]) => p.requiresGrad && skip.some((g) => fnmatch(n, g)))
        .map(([n]) => n);
      if (trained.length) {
        throw new Error(
          `checkpoint.skip_saving_parameters matches parameters that are trained: ` +
            `${trained.join(", ")}; freeze them or drop the pattern`,
        );
      }
      await this.#initWeights();
      return false;
    }
    if (initAfterPreemption) await this.#initWeights();
    const c = await loadTrainerCheckpoint(path!);
    const report = this.opts.task.model.loadStateDict(c.model, { strict: false });
    const missing = report.missing.filter((k) => !skip.some((p) => fnmatch(k, p)));
    if (missing.length || report.unexpected.length || report.mismatched.length) {
      throw new Error(
        `Checkpoint "${path}" does not fit the model: ` +
          [
            missing.length ? `missing ${missing.join(", ")}` : "",
            report.unexpected.length ? `unexpected ${report.unexpected.join(", ")}` : "",
            report.mismatched.length ? `mis-shaped ${report.mismatched.join(", ")}` : "",
          ].filter(Boolean).join("; "),
      );
    }
    restoreOptimizerState(this.optimizer, c.optimizer, path!);
    this.#progress = c.progress;
    this.#epochIter = c.epochIter;
    this.#lastGood = path;
    await this.log.info(
      `Resuming from ${path}: epoch ${c.progress.epoch}` +
        (c.epochIter ? ` (batch ${c.epochIter})` : "") + `, step ${c.progress.steps.train}`,
    );
    return true;
  }

  async #initWeights(): Promise<void> {
    const init = this.opts.checkpoint.model_weight_initializer;
    if (!init) return;
    const r = await initializeModelWeights(this.opts.task.model, init, { cwd: this.opts.cwd });
    await this.log.info(
      `Loaded ${r.loaded} tensors from ${r.file}` +
        (r.missing.length ? ` (${r.missing.length} keys left as initialised)` : ""),
    );
  }

  /** Writes checkpoint.pt (and the numbered copy when due) on rank 0. */
  async save(numbered: number | null = null): Promise<void> {
    const path = this.checkpointPath;
    if (path === null || this.rank !== 0) return;
    const ck = this.opts.checkpoint;
    await Deno.mkdir(ck.save_dir!, { recursive: true });
    const save = {
      model: this.opts.task.model,
      optimizer: this.optimizer,
      progress: this.#progress,
      epochIter: this.#epochIter,
      skipSavingParameters: ck.skip_saving_parameters ?? [],
    };
    // Read back from the GPU once, written once per name (each write is atomic).
    const tree = await trainerCheckpointTree(save);
    await savePt(path, tree);
    this.#lastGood = path;
    if (numbered !== null) await savePt(join(ck.save_dir!, `checkpoint_${numbered}.pt`), tree);
  }

  /** Loads (see {@link load}) and trains until `maxEpochs` or `maxSteps`. */
  async run(): Promise<TrainResult> {
    const resumed = await this.load();
    const { task, data, maxEpochs } = this.opts;
    const logFreq = Math.max(1, this.opts.logFreq ?? 10);
    const clipMax = this.opts.optim?.gradient_clip?.max_norm ?? null;
    const started = performance.now();
    const elapsedBefore = this.#progress.timeElapsed;
    const pool = gpu().pool;
    let lastLoss = NaN;
    task.model.train();
    const maxSteps = this.opts.maxSteps;
    if (maxSteps !== undefined && this.#progress.steps.train >= maxSteps) {
      await this.log.info(`Nothing to do: ${this.#progress.steps.train} steps >= --max-steps`);
      return this.#result(true, lastLoss, resumed);
    }
    while (this.#progress.epoch < maxEpochs) {
      const epoch = this.#progress.epoch;
      const n = data.numBatches(epoch);
      if (n <= 0) throw new RangeError(`Epoch ${epoch} has no batches: check the data config`);
      const sums: Record<string, number> = {};
      let counted = 0;
      let iter = 0;
      const skip = this.#epochIter;
      if (skip > 0) {
        await this.log.info(`Skipping ${skip} batches of epoch ${epoch} already trained`);
      }
      pool.resetPeak();
      let tData = performance.now();
      for await (const batch of data.epoch(epoch)) {
        if (iter < skip) {
          data.recycle?.(batch);
          iter++;
          tData = performance.now();
          continue;
        }
        const t0 = performance.now();
        const dataTime = (t0 - tData) / 1000;
        const logNow = iter % logFreq === 0;
        // Everything the step creates (inputs, activations, the tape, gradient norms, the loss)
        // is freed when it ends: only parameters, their gradients and the optimizer state (all
        // kept) outlive it, so GPU memory is the same after every step.
        const r = await tidyAsync(
          () => this.#trainStep(batch, { epoch, iter, n, clipMax, logNow }),
          { releaseTape: true },
        );
        if (r.skipped) {
          // E.g. every frame of a short clip took its mask input as output: nothing to learn
          // from. PyTorch would raise in backward(); we skip the update and say so.
          await this.log.info(
            `Step ${this.#progress.steps.train} (epoch ${epoch}, batch ${iter}): the loss ` +
              `${r.loss} does not depend on any trainable parameter; no update for this batch`,
          );
          data.recycle?.(batch);
          iter++;
          this.#epochIter = iter;
          tData = performance.now();
          continue;
        }
        this.#progress.steps.train++;
        data.recycle?.(batch);
        const { loss, terms, where } = r;
        lastLoss = loss;
        sums.loss = (sums.loss ?? 0) + loss;
        for (const [k, v] of Object.entries(terms)) sums[k] = (sums[k] ?? 0) + v;
        counted++;
        if (logNow) {
          const rec: StepRecord = {
            step: this.#progress.steps.train,
            epoch,
            iter,
            where,
            loss,
            terms,
            groups: this.optimizer.groups.map((g) => ({ lr: g.lr, weight_decay: g.weightDecay })),
            grad_norm: r.gradNorm,
            step_time: (performance.now() - t0) / 1000,
            data_time: dataTime,
            peak_gpu_bytes: pool.stats().peakBytes,
          };
          pool.resetPeak();
          await this.log.step(rec, n);
        }
        iter++;
        this.#epochIter = iter;
        this.#progress.timeElapsed = elapsedBefore + (performance.now() - started) / 1000;
        tData = performance.now();
        const max = this.opts.maxSteps;
        if (max !== undefined && this.#progress.steps.train >= max && iter < n) {
          await this.save();
          await this.log.info(
            `Stopped at --max-steps ${max} (epoch ${epoch}, batch ${iter}/${n})` +
              (this.checkpointPath ? `; checkpoint ${this.checkpointPath}` : ""),
          );
          return this.#result(true, lastLoss, resumed);
        }
      }
      if (iter !== n) {
        throw new Error(`Epoch ${epoch} yielded ${iter} batches, numBatches said ${n}`);
      }
      // End of epoch: the reference saves with epoch + 1 (the next epoch to run).
      this.#progress.epoch = epoch + 1;
      this.#epochIter = 0;
      const ck = this.opts.checkpoint;
      const next = epoch + 1;
      const numbered = ((ck.save_freq ?? 0) > 0 && next % ck.save_freq! === 0) ||
          (ck.save_list ?? []).includes(next)
        ? next
        : null;
      await this.save(numbered);
      const stats: Record<string, number> = {};
      for (const [k, v] of Object.entries(sums)) {
        stats[k === "loss" ? "Losses/train_all_loss" : `Losses/train_all_${k}`] = v / counted;
      }
      const trainerState = {
        "Trainer/where": (epoch + (n - 1) / n) / maxEpochs,
        "Trainer/epoch": epoch,
        "Trainer/steps_train": this.#progress.steps.train,
      };
      await this.log.json("train_stats.json", { ...stats, ...trainerState });
      Object.assign(this.#progress.bestMeterValues, trainerState);
      await this.log.json("best_stats.json", this.#progress.bestMeterValues);
      await this.log.info(
        `Epoch ${epoch} done: mean loss ${(sums.loss / counted).toPrecision(5)} over ${counted} ` +
          `steps` + (this.checkpointPath ? `; saved ${this.checkpointPath}` : ""),
      );
      const max = this.opts.maxSteps;
      if (max !== undefined && this.#progress.steps.train >= max && next < maxEpochs) {
        await this.log.info(`Stopped at --max-steps ${max} (end of epoch ${epoch})`);
        return this.#result(true, lastLoss, resumed);
      }
    }
    return this.#result(false, lastLoss, resumed);
  }

  /**
   * One step inside the caller's `tidyAsync` scope: zero the gradients, forward and loss,
   * backward, schedules, clipping, AdamW; returns plain numbers so nothing GPU-side escapes.
   */
  async #trainStep(batch: B, at: StepAt): Promise<StepNumbers> {
    const { epoch, iter, n, clipMax, logNow } = at;
    this.optimizer.zeroGrad();
    const out = await this.#forward(batch);
    const loss = await out.loss.item();
    if (!Number.isFinite(loss)) {
      const terms: Record<string, number> = { loss };
      for (const [k, t] of Object.entries(out.terms)) terms[k] = await t.item();
      const shown = Object.entries(terms).map(([k, v]) => `${k}=${v}`).join(", ");
      const msg = `Loss is ${loss} at step ${this.#progress.steps.train} (epoch ${epoch}, ` +
        `batch ${iter}): ${shown}. Training stopped; ` +
        (this.#lastGood
          ? `the last checkpoint "${this.#lastGood}" is untouched`
          : "no checkpoint was written in this run");
      await this.log.info(msg);
      throw new NonFiniteLossError(msg, this.#progress.steps.train, epoch, terms);
    }
    if (!out.loss.requiresGrad) {
      return { skipped: true, loss, terms: {}, where: NaN, gradNorm: NaN };
    }
    backward(out.loss);
    await this.opts.allReduceGradients?.(this.#params);
    const where = (epoch + iter / n) / this.opts.maxEpochs;
    if (where < 1) this.stepSchedulers(where);
    let norm: Tensor | null = null;
    if (clipMax !== null) norm = clipGradNorm(this.#params, clipMax);
    else if (logNow) norm = gradNorm(this.#params, Infinity).totalNorm;
    this.optimizer.step();
    const terms: Record<string, number> = {};
    for (const [k, t] of Object.entries(out.terms)) terms[k] = await t.item();
    const gradNormValue = logNow && norm ? await norm.item() : NaN;
    return { skipped: false, loss, terms, where, gradNorm: gradNormValue };
  }

  async #forward(batch: B): Promise<{ loss: Tensor; terms: Record<string, Tensor> }> {
    const task = this.opts.task;
    if (task.async) {
      const o = await task.step(batch);
      return { loss: o.loss, terms: o.terms ?? {} };
    }
    return tidy(() => {
      const o = task.step(batch);
      if (o instanceof Promise) {
        o.catch(() => {});
        throw new TypeError(
          "TrainTask.step returned a Promise: set `async: true` on the task (the trainer " +
            "then scopes the step with tidyAsync instead of tidy)",
        );
      }
      return { loss: o.loss, terms: o.terms ?? {} };
    });
  }

  #result(stopped: boolean, lastLoss: number, resumed: boolean): TrainResult {
    return {
      progress: this.progress,
      stoppedAtMaxSteps: stopped,
      lastLoss,
      checkpoint: this.rank === 0 ? this.checkpointPath : null,
      resumed,
    };
  }
}
