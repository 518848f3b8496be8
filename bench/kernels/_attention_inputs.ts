/** Inputs shared by the attention benchmarks (`bench/attention.ts`, `bench/kernels/attention.ts`). */
import { type Tensor, tensor } from "../../src/tensor/mod.ts";
import { rand } from "./_timing.ts";

/** A tensor of deterministic values in [-scale/2, scale/2) (see `rand`). */
export function randTensor(shape: number[], seed: number, scale = 1): Tensor {
  const a = rand(shape.reduce((x, y) => x * y, 1), seed);
  if (scale !== 1) { for (let i = 0; i < a.length; i++) a[i] *= scale; }
  return tensor(a, shape);
}
