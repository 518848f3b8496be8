import { gpu } from "../../gpu/runtime.ts";
import { elementwiseWorkgroups } from "../../kernels/elementwise.ts";
import { randomKernel, randomUniforms } from "../../kernels/random.ts";
import { apply } from "../autograd.ts";
import { bindingOf } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { nextRandomKey } from "../philox.ts";
import { numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { copyContiguous } from "./layout.ts";

/** An explicit Philox key; without one the default stream (`manualSeed`) is used and advanced. */
export interface RandomOptions {
  /** Philox key. */
  seed?: number;
  /** Philox block offset. @default 0 with an explicit seed */
  offset?: number;
}

function keyFor(draws: number, perBlock: number, o: RandomOptions) {
  return o.seed !== undefined
    ? { seed: o.seed, offset: o.offset ?? 0 }
    : nextRandomKey(draws / perBlock);
}

function launchRandom(
  mode: "uniform" | "normal",
  shape: readonly number[],
  a: number,
  b: number,
  o: RandomOptions,
): Tensor {
  const n = numel(shape);
  const out = Tensor.empty(shape, "f32");
  const k = keyFor(n, mode === "normal" ? 2 : 4, o);
  if (n > 0) {
    gpu().launch(randomKernel({ mode }), {
      buffers: [bindingOf(out)],
      uniforms: randomUniforms({ n, group: 1, ...k, a, b }),
      workgroups: elementwiseWorkgroups(n),
    });
  }
  return out;
}

/** U[lo, hi) samples (Philox; identical to `philoxUniform` on the CPU). */
export function rand(
  shape: readonly number[],
  opts: RandomOptions & { low?: number; high?: number } = {},
): Tensor {
  return launchRandom("uniform", shape, opts.low ?? 0, opts.high ?? 1, opts);
}

/** N(mean, std) samples (Philox + Box-Muller). */
export function randn(
  shape: readonly number[],
  opts: RandomOptions & { mean?: number; std?: number } = {},
): Tensor {
  return launchRandom("normal", shape, opts.mean ?? 0, opts.std ?? 1, opts);
}

interface DropAttrs {
  p: number;
  group: number;
  seed: number;
  offset: number;
}

function launchDrop(x: Tensor, a: DropAttrs): Tensor {
  const src = x.isContiguous && x.offset === 0 ? x : copyContiguous(x);
  const out = Tensor.empty(x.shape, "f32");
  const n = x.size;
  if (n > 0) {
    gpu().launch(randomKernel({ mode: "dropout" }), {
      buffers: [out, src].map(bindingOf),
      uniforms: randomUniforms({
        n,
        group: a.group,
        seed: a.seed,
        offset: a.offset,
        a: a.p,
        b: 1 / (1 - a.p),
      }),
      workgroups: elementwiseWorkgroups(n),
    });
  }
  if (src !== x) src.dispose();
  return out;
}

const dropOp: OpDef<DropAttrs> = {
  name: "dropout",
  forward: (_ctx, [x], a) => launchDrop(x, a),
  // Same key => same mask: the gradient is g masked and scaled identically.
  backward: (_ctx, g, a) => [launchDrop(g, a)],
};

/** Options of `dropout` / `dropPath`. */
export interface DropoutOptions extends RandomOptions {
  /** Whether to drop (false: identity, like eval mode). @default true */
  training?: boolean;
}

/** Zeroes each element with probability p and scales the rest by 1/(1-p) (`F.dropout`). */
export function dropout(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout(): p=${p} must be in [0, 1]`);
  if (!(opts.training ?? true) || p === 0) return x;
  const k = keyFor(x.size, 4, opts);
  return apply(dropOp, [x], { p, group: 1, ...k });
}

/**
 * Drop-path (stochastic depth): zeroes whole samples (dim 0) with probability p and scales the
 * kept ones by 1/(1-p), like timm's `drop_path` used by Hiera.
 */
export function dropPath(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  if (!(opts.training ?? true) || p === 0) return x;
  const group = x.size / (x.shape[0] || 1);
  const k = keyFor(x.shape[0], 4, opts);
  return apply(dropOp, [x], { p, group, ...k });
}
