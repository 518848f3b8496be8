/**
 * A small real model for trainer tests: Linear -> LayerNorm -> ReLU -> Linear fitted to a fixed
 * synthetic regression problem, with deterministic weights and batches.
 */
import { LayerNorm, Linear, Module } from "../../../src/nn/mod.ts";
import { type Tensor, tensor } from "../../../src/tensor/mod.ts";
import type {
  OptimConfig,
  ParamSchedulerConfig,
  SchedulerOptionConfig,
  StepOutput,
  TrainData,
  TrainTask,
} from "../../../src/train/mod.ts";

/** A deterministic stream of numbers in [0, 1). */
export function lcg(seed: number): () => number {
  let s = (seed >>> 0) || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** fc1 [in -> hidden], norm (torch.nn.LayerNorm), fc2 [hidden -> 1]. */
export class TinyNet extends Module {
  readonly fc1: Linear;
  readonly norm: LayerNorm;
  readonly fc2: Linear;
  constructor(readonly inFeatures = 3, hidden = 8) {
    super();
    this.fc1 = this.module("fc1", new Linear(inFeatures, hidden));
    this.norm = this.module("norm", new LayerNorm(hidden));
    this.fc2 = this.module("fc2", new Linear(hidden, 1));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.norm.forward(this.fc1.forward(x)).relu());
  }
}

/** A TinyNet with fixed weights (the same for every call with the same seed). */
export function tinyNet(seed = 7, inFeatures = 3, hidden = 8): TinyNet {
  const m = new TinyNet(inFeatures, hidden);
  const r = lcg(seed);
  const values = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, p] of m.namedParameters()) {
    const data = name.startsWith("norm.")
      ? new Float32Array(p.size).fill(name.endsWith("weight") ? 1 : 0)
      : Float32Array.from({ length: p.size }, () => (r() - 0.5) * 0.8);
    values.set(name, { shape: p.shape, data });
  }
  m.loadStateDict(values);
  return m;
}

/** One batch: 6 samples of 3 features and their targets. */
export interface TinyBatch {
  x: Float32Array;
  y: Float32Array;
}

/** The regression target: a fixed nonlinear function of the features. */
function target(x0: number, x1: number, x2: number): number {
  return 0.8 * x0 - 0.6 * x1 + 0.5 * x0 * x2 + 0.2;
}

/** `batches` batches per epoch, the same for the same epoch. */
export function tinyData(batches = 4): TrainData<TinyBatch> & { served: number } {
  const data = {
    served: 0,
    numBatches: () => batches,
    *epoch(epoch: number): Iterable<TinyBatch> {
      for (let i = 0; i < batches; i++) {
        const r = lcg(1000 + epoch * 97 + i * 13);
        const x = Float32Array.from({ length: 18 }, () => r() * 2 - 1);
        const y = new Float32Array(6);
        for (let k = 0; k < 6; k++) y[k] = target(x[3 * k], x[3 * k + 1], x[3 * k + 2]);
        data.served++;
        yield { x, y };
      }
    },
  };
  return data;
}

/** Options of {@link tinyTask}. */
export interface TinyTaskOptions {
  /** Make the loss NaN from this call of `step` on (0-based). */
  nanFromCall?: number;
}

/** Mean squared error of the TinyNet, with the MSE and MAE as terms. */
export function tinyTask(
  model: TinyNet,
  opts: TinyTaskOptions = {},
): Omit<TrainTask<TinyBatch>, "step"> & {
  calls: number;
  step(b: TinyBatch): StepOutput;
} {
  const task = {
    model,
    calls: 0,
    moduleClasses: { TinyNet: "tests.TinyNet" },
    step(b: TinyBatch) {
      const x = tensor(b.x, [6, 3]);
      const y = tensor(b.y, [6, 1]);
      const err = model.forward(x).sub(y);
      let mse = err.square().mean();
      if (opts.nanFromCall !== undefined && task.calls >= opts.nanFromCall) mse = mse.mul(NaN);
      task.calls++;
      return { loss: mse, terms: { loss_mse: mse, loss_mae: err.abs().mean() } };
    },
  };
  return task;
}

const F = "fvcore.common.param_scheduler.";

/** A scheduler option entry. */
export function entry(
  scheduler: ParamSchedulerConfig,
  sel: { names?: string[]; classes?: string[] } = {},
): SchedulerOptionConfig {
  return { scheduler, param_names: sel.names ?? null, module_cls_names: sel.classes ?? null };
}

/** An optim section: cosine lr, wd 0.1 except biases and LayerNorm (0), optional clipping. */
export function tinyOptim(
  o: { lr0?: number; lr1?: number; clip?: number | null; constantLr?: number } = {},
): OptimConfig {
  const lr: ParamSchedulerConfig = o.constantLr !== undefined
    ? { _target_: `${F}ConstantParamScheduler`, value: o.constantLr }
    : {
      _target_: `${F}CosineParamScheduler`,
      start_value: o.lr0 ?? 0.05,
      end_value: o.lr1 ?? 0.005,
    };
  return {
    optimizer: {
      _target_: "torch.optim.AdamW",
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weight_decay: 0.01,
      amsgrad: false,
      maximize: false,
    },
    options: {
      lr: [entry(lr)],
      weight_decay: [
        entry({ _target_: `${F}ConstantParamScheduler`, value: 0.1 }),
        entry({ _target_: `${F}ConstantParamScheduler`, value: 0 }, {
          names: ["*bias*"],
          classes: ["torch.nn.LayerNorm"],
        }),
      ],
    },
    param_group_modifiers: null,
    amp: { enabled: false, amp_dtype: "float16" },
    gradient_clip: o.clip === undefined || o.clip === null
      ? null
      : { _target_: "training.optimizer.GradientClipper", max_norm: o.clip, norm_type: 2 },
    gradient_logger: null,
  };
}

/** Every parameter's values, in order, as one flat array. */
export async function flatParams(m: Module): Promise<Float64Array> {
  const parts: number[] = [];
  for (const p of m.parameters()) parts.push(...(await p.toArray()));
  return Float64Array.from(parts);
}
