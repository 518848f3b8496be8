/**
 * Parameter schedules with fvcore's semantics (`fvcore/common/param_scheduler.py`, used by
 * the reference trainer for lr and weight decay): a schedule maps training progress
 * `where` in [0, 1) to a value. The trainer computes `where` once per iteration, before the
 * optimizer step (see {@link trainingProgress}).
 */
import type { ParamSchedulerConfig } from "./config/training_types.ts";

/** A schedule: progress in [0, 1) to a value. */
export type ParamSchedule = (where: number) => number;

/** fvcore's tolerance when comparing `where` against boundaries. */
export const WHERE_EPSILON = 1e-6;

/**
 * `where` as the reference trainer computes it:
 * `(epoch + iter / itersPerEpoch) / maxEpochs`.
 */
export function trainingProgress(
  epoch: number,
  iteration: number,
  itersPerEpoch: number,
  maxEpochs: number,
): number {
  return (epoch + iteration / itersPerEpoch) / maxEpochs;
}

function bisectRight(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < xs[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function multiStep(values: number[], numUpdates: number | null, milestonesIn: number[] | null) {
  if (numUpdates === null && milestonesIn === null) {
    throw new RangeError("MultiStepParamScheduler: num_updates and milestones cannot both be null");
  }
  let milestones: number[];
  let total: number;
  if (milestonesIn === null) {
    const width = Math.ceil(numUpdates! / values.length);
    milestones = values.slice(1).map((_, i) => width * (i + 1));
    total = numUpdates!;
  } else {
    const want = values.length - (numUpdates !== null ? 1 : 0);
    if (milestonesIn.length !== want) {
      throw new RangeError(`MultiStepParamScheduler requires a list of ${want} milestones`);
    }
    if (numUpdates === null) {
      total = milestonesIn[milestonesIn.length - 1];
      milestones = milestonesIn.slice(0, -1);
    } else {
      total = numUpdates;
      milestones = [...milestonesIn];
    }
  }
  if (total < values.length) {
    throw new RangeError("MultiStepParamScheduler: num_updates must be >= the number of values");
  }
  let start = 0;
  for (const m of milestones) {
    if (m >= total) {
      throw new RangeError(`Milestone ${m} must be smaller than num_updates ${total}`);
    }
    if (start >= m) throw new RangeError(`Milestones must be increasing: ${milestones}`);
    start = m;
  }
  return (where: number) => {
    if (where > 1) throw new RangeError(`where must be in [0, 1]: got ${where}`);
    return values[bisectRight(milestones, Math.trunc((where + WHERE_EPSILON) * total))];
  };
}

/**
 * Builds the schedule a scheduler config describes, with fvcore's exact formulas and
 * boundary rules (e.g. Constant refuses where >= 1; Step/Composite add WHERE_EPSILON).
 * @throws {RangeError} for configs fvcore rejects (bad milestones, lengths not summing to 1).
 */
export function makeParamSchedule(cfg: ParamSchedulerConfig): ParamSchedule {
  switch (cfg._target_) {
    case "fvcore.common.param_scheduler.ConstantParamScheduler":
      return (where) => {
        if (where >= 1) throw new RangeError(`where must be in [0, 1): got ${where}`);
        return cfg.value;
      };
    case "fvcore.common.param_scheduler.CosineParamScheduler":
      return (where) =>
        cfg.end_value + 0.5 * (cfg.start_value - cfg.end_value) * (1 + Math.cos(Math.PI * where));
    case "fvcore.common.param_scheduler.LinearParamScheduler":
      return (where) => cfg.end_value * where + cfg.start_value * (1 - where);
    case "fvcore.common.param_scheduler.ExponentialParamScheduler":
      return (where) => cfg.start_value * cfg.decay ** where;
    case "fvcore.common.param_scheduler.PolynomialDecayParamScheduler":
      return (where) => cfg.base_value * (1 - where) ** cfg.power;
    case "fvcore.common.param_scheduler.StepParamScheduler": {
      if (cfg.num_updates <= 0) throw new RangeError("Number of updates must be larger than 0");
      if (cfg.values.length === 0) throw new RangeError("Step scheduler needs at least one value");
      const values = cfg.values;
      return (where) => values[Math.trunc((where + WHERE_EPSILON) * values.length)];
    }
    case "fvcore.common.param_scheduler.MultiStepParamScheduler":
      return multiStep(cfg.values, cfg.num_updates, cfg.milestones);
    case "fvcore.common.param_scheduler.StepWithFixedGammaParamScheduler": {
      if (!(cfg.base_value > 0 && cfg.gamma > 0)) {
        throw new RangeError("base_value and gamma must be positive numbers");
      }
      if (!(cfg.num_decays > 0 && cfg.num_updates > 0)) {
        throw new RangeError("num_decays and num_updates must be positive integers");
      }
      const values = [cfg.base_value];
      for (let i = 0; i < cfg.num_decays; i++) values.push(values[i] * cfg.gamma);
      return (where) => values[Math.trunc((where + WHERE_EPSILON) * values.length)];
    }
    case "fvcore.common.param_scheduler.CompositeParamScheduler": {
      const scheds = cfg.schedulers.map(makeParamSchedule);
      if (scheds.length !== cfg.lengths.length) {
        throw new RangeError("Schedulers and lengths must be same length");
      }
      if (scheds.length === 0) throw new RangeError("There must be at least one scheduler");
      const lengths = [...cfg.lengths];
      const sum = lengths.reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 1) >= 1e-3) throw new RangeError("The sum of all lengths must be 1");
      if (sum !== 1) {
        lengths[lengths.length - 1] = 1 - lengths.slice(0, -1).reduce((a, b) => a + b, 0);
      }
      return (where) => {
        let i = 0;
        let total = lengths[0];
        while (where + WHERE_EPSILON > total && i < scheds.length - 1) {
          i++;
          total += lengths[i];
        }
        const local = cfg.interval_scaling[i] === "rescaled"
          ? (where - (total - lengths[i])) / lengths[i]
          : where;
        return scheds[i](local);
      };
    }
  }
}

/** The reference's ValueScaler: a schedule multiplied by a constant (layer-wise lr decay). */
export function scaleSchedule(schedule: ParamSchedule, mult: number): ParamSchedule {
  return (where) => schedule(where) * mult;
}
