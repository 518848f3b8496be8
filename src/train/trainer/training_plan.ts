/**
 * What a training run will do, worked out before it starts (and printed by `deno task train`):
 * model size, optimizer param groups with their schedules sampled over training, data, paths.
 */
import type { Module } from "../../nn/module.ts";
import type { ScheduledParamGroup } from "../config/param_groups.ts";
import { paramGroupValues } from "../config/param_groups.ts";
import type { TrainingConfig } from "../config/training_types.ts";

/** One param group as the plan shows it. */
export interface PlanGroup {
  tensors: number;
  elements: number;
  /** The first parameter names (up to 3). */
  examples: string[];
  /** Option -> schedule kind (`CosineParamScheduler`, ...). */
  describe: Record<string, string>;
  /** Option values at each of {@link TrainingPlan.samplesAt}. */
  samples: Record<string, number>[];
}

/** One training dataset as the plan shows it. */
export interface PlanDataset {
  kind: string;
  /** Resolved folders / files. */
  paths: string[];
  batchSize: number;
}

/** The plan of a run. */
export interface TrainingPlan {
  configFile: string;
  modelTarget: string;
  parameters: number;
  parameterTensors: number;
  maxEpochs: number;
  /** Progress values the schedules are sampled at. */
  samplesAt: number[];
  groups: PlanGroup[];
  gradientClip: number | null;
  datasets: PlanDataset[];
  /** Batches of epoch 0, when the datasets could be opened. */
  batchesPerEpoch: number | null;
  saveDir: string;
  logDir: string;
  /** Things the user should know (unsupported options that are ignored, ...). */
  notes: string[];
}

/** Progress values the plan samples schedules at (start, quarters, end). */
export const PLAN_SAMPLES: number[] = [0, 0.25, 0.5, 0.75, 1 - 1e-9];

/** Builds the parts of a plan that come from the config, the model and the groups. */
export function planFrom(
  cfg: TrainingConfig,
  model: Module,
  groups: ScheduledParamGroup[],
): Omit<TrainingPlan, "datasets" | "batchesPerEpoch" | "notes"> {
  const shapes = new Map(model.namedParameters().map(([n, t]) => [n, t.size]));
  const samples = PLAN_SAMPLES.map((w) => paramGroupValues(groups, w));
  const t = cfg.trainer;
  return {
    configFile: cfg.file,
    modelTarget: t.model._target_,
    parameters: [...shapes.values()].reduce((a, b) => a + b, 0),
    parameterTensors: shapes.size,
    maxEpochs: t.max_epochs,
    samplesAt: PLAN_SAMPLES,
    groups: groups.map((g, i) => ({
      tensors: g.params.length,
      elements: g.params.reduce((a, n) => a + (shapes.get(n) ?? 0), 0),
      examples: g.params.slice(0, 3),
      describe: g.describe,
      samples: samples.map((s) => s[i]),
    })),
    gradientClip: t.optim?.gradient_clip?.max_norm ?? null,
    saveDir: t.checkpoint.save_dir,
    logDir: t.logging.log_dir,
  };
}

function human(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

function num(x: number): string {
  return x === 0
    ? "0"
    : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4
    ? x.toPrecision(3)
    : x.toExponential(2);
}

/** The plan as readable text. */
export function formatTrainingPlan(p: TrainingPlan): string {
  const lines: string[] = [];
  lines.push(`config:  ${p.configFile}`);
  lines.push(
    `model:   ${p.modelTarget}, ${human(p.parameters)} parameters in ${p.parameterTensors} tensors`,
  );
  lines.push(
    `epochs:  ${p.maxEpochs}` +
      (p.batchesPerEpoch !== null
        ? `, ${p.batchesPerEpoch} batches per epoch (${p.batchesPerEpoch * p.maxEpochs} steps)`
        : ""),
  );
  lines.push(
    `optim:   AdamW, ${p.groups.length} param groups, gradient clip ${
      p.gradientClip === null ? "off" : `max_norm ${p.gradientClip}`
    }; values at where = ${p.samplesAt.map((w) => w.toFixed(2)).join(", ")}:`,
  );
  p.groups.forEach((g, i) => {
    const opts = Object.keys(g.describe).map((k) =>
      `${k} ${g.samples.map((s) => num(s[k])).join(" > ")} (${g.describe[k]})`
    ).join("; ");
    lines.push(
      `  group ${i}: ${g.tensors} tensors, ${human(g.elements)} values, e.g. ${
        g.examples.join(", ")
      }${opts ? ` | ${opts}` : ""}`,
    );
  });
  lines.push(
    p.datasets.length ? `data:    ${p.datasets.length} dataset(s)` : "data:    given by the caller",
  );
  for (const d of p.datasets) {
    lines.push(`  ${d.kind}, batch size ${d.batchSize}: ${d.paths.join(", ")}`);
  }
  lines.push(`save:    ${p.saveDir}/checkpoint.pt`);
  lines.push(`logs:    ${p.logDir}`);
  for (const n of p.notes) lines.push(`note:    ${n}`);
  return lines.join("\n");
}
