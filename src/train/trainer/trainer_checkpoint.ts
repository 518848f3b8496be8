/**
 * The reference trainer's checkpoint (`Trainer.save_checkpoint`): a `torch.save` dict
 * `{model, optimizer, epoch, loss, steps, time_elapsed, best_meter_values}` where `model` is the
 * model's state dict and `optimizer` is `torch.optim.AdamW.state_dict()` (per-parameter `step`,
 * `exp_avg`, `exp_avg_sq` keyed by the parameter's index over all groups, and the groups with
 * their hyper-parameters and indices). What we write loads with `torch.load` and into the
 * reference trainer; what it writes loads here.
 */
import {
  CheckpointError,
  fnmatch,
  type HostTensor,
  hostTensor,
  isHostTensor,
  loadPt,
  PyDict,
  PyFloat,
  type PyKey,
  PyTuple,
  type PyValue,
  savePt,
  toFloat32,
} from "../../checkpoint/mod.ts";
import type { Module } from "../../nn/module.ts";
import { tensor } from "../../tensor/create.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { AdamW } from "../optim/adamw.ts";

/** The counters the reference trainer keeps next to the weights. */
export interface TrainerProgress {
  /** The epoch to run next (mid-epoch stops: the epoch in progress). */
  epoch: number;
  /** Optimizer steps done, by phase (`train`, `val`). */
  steps: { train: number; val: number };
  /** Seconds of training so far, over all runs. */
  timeElapsed: number;
  /** The reference's `best_meter_values` (trainer state and best meters). */
  bestMeterValues: Record<string, number>;
}

async function hostOf(t: Tensor): Promise<HostTensor> {
  const data = await t.toArray();
  switch (t.dtype) {
    case "f32":
    case "f16": // toArray gives f16 as f32; saved as float32 (our master weights are f32)
      return hostTensor("float32", t.shape, data as Float32Array);
    case "i32":
      return hostTensor("int32", t.shape, data as Int32Array);
    case "u32":
      return hostTensor("int64", t.shape, BigInt64Array.from(data as Uint32Array, BigInt));
  }
}

/**
 * The model's state dict as host tensors (an OrderedDict, as `state_dict()`), without the keys
 * matching `skip` (the reference's `skip_saving_parameters`).
 */
export async function modelStateToHost(
  model: Module,
  skip: readonly string[] = [],
): Promise<PyDict<HostTensor>> {
  const out = new PyDict<HostTensor>();
  out.ordered = true;
  for (const [k, t] of model.stateDict()) {
    if (skip.some((p) => fnmatch(k, p))) continue;
    out.set(k, await hostOf(t));
  }
  return out;
}

/** Hyper-parameters `torch.optim.AdamW` keeps in each param group (besides `params`). */
function groupHyper(opt: AdamW, lr: number, wd: number): [string, PyValue][] {
  return [
    ["lr", new PyFloat(lr)],
    ["betas", PyTuple.of(new PyFloat(opt.beta1), new PyFloat(opt.beta2)) as unknown as PyValue],
    ["eps", new PyFloat(opt.eps)],
    ["weight_decay", new PyFloat(wd)],
    ["amsgrad", false],
    ["foreach", null],
    ["maximize", false],
    ["capturable", false],
    ["differentiable", false],
    ["fused", null],
  ];
}

/** `AdamW.state_dict()` in torch's layout (state tensors read back from the GPU). */
export async function optimizerStateDict(opt: AdamW): Promise<PyDict> {
  const state = new PyDict();
  const groups: PyValue[] = [];
  let index = 0;
  for (const g of opt.groups) {
    const ids: number[] = [];
    for (const p of g.params) {
      const s = opt.state(p);
      if (s) {
        const entry = new PyDict();
        entry.set("step", hostTensor("float32", [], Float32Array.of(s.step)));
        entry.set("exp_avg", await hostOf(s.expAvg));
        entry.set("exp_avg_sq", await hostOf(s.expAvgSq));
        state.set(index, entry);
      }
      ids.push(index++);
    }
    const group = new PyDict();
    for (const [k, v] of groupHyper(opt, g.lr, g.weightDecay)) group.set(k, v);
    group.set("params", ids);
    groups.push(group);
  }
  const out = new PyDict();
  out.set("state", state);
  out.set("param_groups", groups);
  return out;
}

/** Options for {@link saveTrainerCheckpoint}. */
export interface SaveTrainerCheckpointOptions {
  model: Module;
  optimizer: AdamW;
  progress: TrainerProgress;
  /**
   * Batches of `progress.epoch` already trained, for a run stopped mid-epoch (saved as
   * `epoch_iter`, a key the reference trainer ignores: it would redo that epoch). @default 0
   */
  epochIter?: number;
  /** Globs of state-dict keys left out (`skip_saving_parameters`). @default [] */
  skipSavingParameters?: readonly string[];
}

/** The checkpoint tree (see the module doc); exported for tests and tools. */
export async function trainerCheckpointTree(opts: SaveTrainerCheckpointOptions): Promise<PyDict> {
  const root = new PyDict();
  root.set("model", await modelStateToHost(opts.model, opts.skipSavingParameters ?? []));
  root.set("optimizer", await optimizerStateDict(opts.optimizer));
  root.set("epoch", opts.progress.epoch);
  root.set("epoch_iter", opts.epochIter ?? 0);
  const loss = new PyDict();
  loss.ordered = true; // the loss ModuleDict's (empty) state_dict
  root.set("loss", loss);
  const steps = new PyDict();
  steps.set("train", opts.progress.steps.train);
  steps.set("val", opts.progress.steps.val);
  root.set("steps", steps);
  root.set("time_elapsed", new PyFloat(opts.progress.timeElapsed));
  const best = new PyDict();
  for (const [k, v] of Object.entries(opts.progress.bestMeterValues)) best.set(k, new PyFloat(v));
  root.set("best_meter_values", best);
  return root;
}

/**
 * Writes a trainer checkpoint to `path` atomically (temporary file, then rename): the file is
 * either the old one or the complete new one, never half written.
 */
export async function saveTrainerCheckpoint(
  path: string,
  opts: SaveTrainerCheckpointOptions,
): Promise<void> {
  await savePt(path, await trainerCheckpointTree(opts));
}

function get(node: unknown, key: PyKey, where: string, file: string): unknown {
  if (!(node instanceof Map) || !node.has(key)) {
    const have = node instanceof Map ? [...node.keys()].map(String).join(", ") : "not a dict";
    throw new CheckpointError(`${where} has no "${String(key)}" (it has: ${have})`, { file });
  }
  return node.get(key);
}

function num(v: unknown, where: string, file: string): number {
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (isHostTensor(v) && v.shape.length === 0) return toFloat32(v)[0];
  throw new CheckpointError(`${where} is not a number`, { file });
}

/** A trainer checkpoint read back: the model state dict and the rest of the tree. */
export interface TrainerCheckpoint {
  /** The file it came from. */
  file: string;
  /** `checkpoint["model"]`. */
  model: Map<string, HostTensor>;
  /** `checkpoint["optimizer"]` (torch layout). */
  optimizer: unknown;
  progress: TrainerProgress;
  /** Batches of `progress.epoch` already trained (0 for the reference's checkpoints). */
  epochIter: number;
}

/**
 * Reads a trainer checkpoint (ours or the reference trainer's).
 * @throws {CheckpointError} naming the file and the missing or malformed entry.
 */
export async function loadTrainerCheckpoint(path: string): Promise<TrainerCheckpoint> {
  const root = await loadPt(path);
  const model = get(root, "model", "checkpoint", path);
  if (!(model instanceof Map)) {
    throw new CheckpointError(`checkpoint["model"] is not a dict`, {
      file: path,
    });
  }
  const sd = new Map<string, HostTensor>();
  for (const [k, v] of model) {
    if (typeof k !== "string" || !isHostTensor(v)) {
      throw new CheckpointError(`checkpoint["model"]["${String(k)}"] is not a tensor`, {
        file: path,
      });
    }
    sd.set(k, v);
  }
  const steps = get(root, "steps", "checkpoint", path);
  const best = root instanceof Map && root.has("best_meter_values")
    ? root.get("best_meter_values")
    : new Map();
  const bestMeterValues: Record<string, number> = {};
  if (best instanceof Map) {
    for (const [k, v] of best) {
      if (typeof v === "number" || v instanceof PyFloat) {
        bestMeterValues[String(k)] = num(v, "", "");
      }
    }
  }
  const elapsed = root instanceof Map ? root.get("time_elapsed") : undefined;
  const epochIter = root instanceof Map && root.has("epoch_iter")
    ? num(root.get("epoch_iter"), 'checkpoint["epoch_iter"]', path)
    : 0;
  return {
    file: path,
    model: sd,
    optimizer: get(root, "optimizer", "checkpoint", path),
    epochIter,
    progress: {
      epoch: num(get(root, "epoch", "checkpoint", path), 'checkpoint["epoch"]', path),
      steps: {
        train: num(get(steps, "train", 'checkpoint["steps"]', path), "steps.train", path),
        val: steps instanceof Map && steps.has("val")
          ? num(steps.get("val"), "steps.val", path)
          : 0,
      },
      timeElapsed: elapsed === undefined || elapsed === null
        ? 0
        : num(elapsed, 'checkpoint["time_elapsed"]', path),
      bestMeterValues,
    },
  };
}

/**
 * Restores AdamW's per-parameter state and group hyper-parameters from a torch-layout optimizer
 * state dict. The groups must be the ones the checkpoint was written with (same config, same
 * model): group and parameter counts and every state tensor's shape are checked.
 *
 * @throws {CheckpointError} describing the first disagreement.
 */
export function restoreOptimizerState(opt: AdamW, sd: unknown, file: string): void {
  const groups = get(sd, "param_groups", 'checkpoint["optimizer"]', file);
  const state = get(sd, "state", 'checkpoint["optimizer"]', file);
  if (!Array.isArray(groups) || !(state instanceof Map)) {
    throw new CheckpointError(`checkpoint["optimizer"] is not an optimizer state dict`, { file });
  }
  if (groups.length !== opt.groups.length) {
    throw new CheckpointError(
      `checkpoint["optimizer"] has ${groups.length} param groups, the current config builds ` +
        `${opt.groups.length}: resume with the config the checkpoint was trained with`,
      { file },
    );
  }
  const byIndex = new Map<number, Tensor>();
  groups.forEach((g, gi) => {
    const ids = get(g, "params", `param_groups[${gi}]`, file);
    const ours = opt.groups[gi];
    if (!Array.isArray(ids) || ids.length !== ours.params.length) {
      throw new CheckpointError(
        `checkpoint["optimizer"] param group ${gi} has ${
          Array.isArray(ids) ? ids.length : "no"
        } parameters, ours has ${ours.params.length}`,
        { file },
      );
    }
    ids.forEach((id, i) => byIndex.set(num(id, "param index", file), ours.params[i]));
    ours.lr = num(get(g, "lr", `param_groups[${gi}]`, file), "lr", file);
    ours.weightDecay = num(get(g, "weight_decay", `param_groups[${gi}]`, file), "wd", file);
  });
  for (const [id, s] of state) {
    const p = byIndex.get(num(id, "state index", file));
    if (!p) {
      throw new CheckpointError(`optimizer state for parameter ${String(id)}: no such parameter`, {
        file,
      });
    }
    const at = `optimizer state of parameter ${String(id)} (${p.name ?? "?"})`;
    const load = (key: string): Tensor => {
      const h = get(s, key, at, file);
      if (!isHostTensor(h) || h.shape.join(",") !== p.shape.join(",")) {
        throw new CheckpointError(
          `${at}: "${key}" should be a tensor of shape [${p.shape}]` +
            (isHostTensor(h) ? `, got [${h.shape}]` : ""),
          { file },
        );
      }
      return tensor(toFloat32(h), p.shape);
    };
    const prev = opt.state(p);
    prev?.expAvg.dispose();
    prev?.expAvgSq.dispose();
    opt.setState(p, {
      step: num(get(s, "step", at, file), `${at} step`, file),
      expAvg: load("exp_avg"),
      expAvgSq: load("exp_avg_sq"),
    });
  }
}
