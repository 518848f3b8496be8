import { tensor } from "../tensor/create.ts";
import { nextRandomKey, philoxNormal, philoxUniform } from "../tensor/philox.ts";
import { numel } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Options of the initialisers: explicit (seed, offset) or the default stream (`manualSeed`). */
export interface InitOptions {
  /** Philox key. @default the default stream's */
  seed?: number;
  /** Philox block offset. @default the default stream's next */
  offset?: number;
}

function key(n: number, perBlock: number, o: InitOptions) {
  if (o.seed !== undefined) return { seed: o.seed, offset: o.offset ?? 0 };
  return nextRandomKey(n / perBlock);
}

/** U(lo, hi) values (seeded, Philox). */
export function uniformInit(
  shape: readonly number[],
  lo: number,
  hi: number,
  o: InitOptions = {},
): Tensor {
  const n = numel(shape);
  const k = key(n, 4, o);
  const u = philoxUniform(n, k.seed, k.offset);
  for (let i = 0; i < n; i++) u[i] = lo + (hi - lo) * u[i];
  return tensor(u, shape);
}

/** N(mean, std) values (seeded, Philox + Box-Muller). */
export function normalInit(
  shape: readonly number[],
  std = 1,
  mean = 0,
  o: InitOptions = {},
): Tensor {
  const n = numel(shape);
  const k = key(n, 2, o);
  const v = philoxNormal(n, k.seed, k.offset);
  for (let i = 0; i < n; i++) v[i] = mean + std * v[i];
  return tensor(v, shape);
}

/** fan_in of a weight [out, in, ...kernel] (PyTorch's `_calculate_fan_in_and_fan_out`). */
export function fanIn(shape: readonly number[]): number {
  return shape.length < 2 ? shape[0] : shape[1] * numel(shape.slice(2));
}

/**
 * PyTorch's default Linear/Conv weight init: kaiming_uniform_(a=sqrt(5)), i.e.
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 */
export function kaimingUniformDefault(shape: readonly number[], o: InitOptions = {}): Tensor {
  const b = 1 / Math.sqrt(fanIn(shape));
  return uniformInit(shape, -b, b, o);
}

/** PyTorch's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) of the weight's fan_in. */
export function biasUniformDefault(n: number, fanInOfWeight: number, o: InitOptions = {}): Tensor {
  const b = fanInOfWeight > 0 ? 1 / Math.sqrt(fanInOfWeight) : 0;
  return uniformInit([n], -b, b, o);
}
