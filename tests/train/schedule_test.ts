import { assertAlmostEquals, assertEquals, assertThrows } from "../assert.ts";
import { makeParamSchedule, scaleSchedule, trainingProgress } from "../../src/train/schedule.ts";

const FV = "fvcore.common.param_scheduler.";

Deno.test("makeParamSchedule() cosine follows end + (start-end)/2 (1 + cos(pi where))", () => {
  const s = makeParamSchedule({
    _target_: `${FV}CosineParamScheduler`,
    start_value: 5e-6,
    end_value: 5e-7,
  });
  assertAlmostEquals(s(0), 5e-6, 1e-18);
  assertAlmostEquals(s(0.5), 2.75e-6, 1e-18);
  // 5e-7 + 2.25e-6 * (1 + cos(pi/4)) = 5e-7 + 2.25e-6 * 1.7071067811865475
  assertAlmostEquals(s(0.25), 4.340990257669732e-6, 1e-18);
  assertAlmostEquals(s(0.999999), 5e-7, 1e-15);
});

Deno.test("makeParamSchedule() constant refuses where >= 1 as fvcore does", () => {
  const s = makeParamSchedule({ _target_: `${FV}ConstantParamScheduler`, value: 0.1 });
  assertEquals([s(0), s(0.99)], [0.1, 0.1]);
  assertThrows(() => s(1), RangeError, "where must be in [0, 1)");
});

Deno.test("makeParamSchedule() linear, exponential and polynomial", () => {
  const lin = makeParamSchedule({
    _target_: `${FV}LinearParamScheduler`,
    start_value: 1,
    end_value: 3,
  });
  assertAlmostEquals(lin(0.25), 1.5, 1e-15);
  const exp = makeParamSchedule({
    _target_: `${FV}ExponentialParamScheduler`,
    start_value: 2,
    decay: 0.25,
  });
  assertAlmostEquals(exp(0.5), 1, 1e-15); // 2 * 0.25^0.5
  const poly = makeParamSchedule({
    _target_: `${FV}PolynomialDecayParamScheduler`,
    base_value: 0.1,
    power: 2,
  });
  assertAlmostEquals(poly(0.5), 0.025, 1e-15);
});

Deno.test("makeParamSchedule() step and multistep use fvcore's boundaries", () => {
  const step = makeParamSchedule({
    _target_: `${FV}StepParamScheduler`,
    num_updates: 120,
    values: [0.1, 0.01, 0.001, 0.0001],
  });
  assertEquals([step(0), step(0.2), step(0.5), step(0.9)], [0.1, 0.1, 0.001, 0.0001]);
  assertEquals(step(0.2499999), 0.01); // WHERE_EPSILON pushes it over the boundary
  const ms = makeParamSchedule({
    _target_: `${FV}MultiStepParamScheduler`,
    values: [1, 0.1, 0.01],
    num_updates: 90,
    milestones: null,
  }); // milestones [30, 60]
  assertEquals([ms(0.33), ms(1 / 3), ms(0.66), ms(0.67), ms(0.999)], [1, 0.1, 0.1, 0.01, 0.01]);
  const ms2 = makeParamSchedule({
    _target_: `${FV}MultiStepParamScheduler`,
    values: [1, 0.1, 0.01],
    num_updates: null,
    milestones: [3, 6, 9],
  });
  assertEquals([ms2(0.3), ms2(0.34), ms2(0.7)], [1, 0.1, 0.01]);
  assertThrows(
    () =>
      makeParamSchedule({
        _target_: `${FV}MultiStepParamScheduler`,
        values: [1, 0.1],
        num_updates: 10,
        milestones: [12],
      }),
    RangeError,
  );
  const gamma = makeParamSchedule({
    _target_: `${FV}StepWithFixedGammaParamScheduler`,
    base_value: 0.1,
    num_decays: 3,
    gamma: 0.1,
    num_updates: 120,
  });
  assertAlmostEquals(gamma(0.6), 0.001, 1e-15);
});

Deno.test("makeParamSchedule() composite rescales or keeps each interval", () => {
  const parts = [
    { _target_: `${FV}ConstantParamScheduler` as const, value: 0.42 },
    { _target_: `${FV}CosineParamScheduler` as const, start_value: 0.42, end_value: 1e-4 },
  ];
  const rescaled = makeParamSchedule({
    _target_: `${FV}CompositeParamScheduler`,
    schedulers: parts,
    lengths: [0.3, 0.7],
    interval_scaling: ["rescaled", "rescaled"],
  });
  assertEquals(rescaled(0.2), 0.42);
  assertAlmostEquals(rescaled(0.65), 1e-4 + 0.5 * (0.42 - 1e-4), 1e-12); // local where 0.5
  const fixed = makeParamSchedule({
    _target_: `${FV}CompositeParamScheduler`,
    schedulers: parts,
    lengths: [0.3, 0.7],
    interval_scaling: ["rescaled", "fixed"],
  });
  // 1e-4 + 0.5 * 0.4199 * (1 + cos(0.65 pi)), cos(0.65 pi) = -0.4539904997
  assertAlmostEquals(fixed(0.65), 0.11473469457968216, 1e-12);
  assertThrows(
    () =>
      makeParamSchedule({
        _target_: `${FV}CompositeParamScheduler`,
        schedulers: parts,
        lengths: [0.3, 0.6],
        interval_scaling: ["rescaled", "rescaled"],
      }),
    RangeError,
    "sum",
  );
});

Deno.test("trainingProgress() and scaleSchedule() follow the trainer and ValueScaler", () => {
  assertEquals(trainingProgress(2, 5, 10, 40), 0.0625);
  const s = scaleSchedule(
    makeParamSchedule({ _target_: `${FV}ConstantParamScheduler`, value: 3e-6 }),
    0.9,
  );
  assertAlmostEquals(s(0.3), 2.7e-6, 1e-18);
});
