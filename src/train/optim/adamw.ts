import { gpu } from "../../gpu/runtime.ts";
import { adamwKernel, adamwUniforms, optWorkgroups } from "../../kernels/adamw.ts";
import { zeros } from "../../tensor/create.ts";
import { bindingOf } from "../../tensor/launch.ts";
import { keep } from "../../tensor/scope.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { GradNorm } from "./clip.ts";

/** One parameter group; `lr` and `weightDecay` may be changed between steps (schedules). */
export interface AdamWGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
}

/** Options of `AdamW`. */
export interface AdamWOptions {
  /** @default [0.9, 0.999] */
  betas?: [number, number];
  /** Added after sqrt(v̂). @default 1e-8 */
  eps?: number;
}

/** Per-parameter optimiser state (PyTorch's `exp_avg`, `exp_avg_sq`, `step`). */
export interface AdamWState {
  expAvg: Tensor;
  expAvgSq: Tensor;
  step: number;
}

/** Options of `AdamW.step`. */
export interface AdamWStepOptions {
  /**
   * Multiply every gradient by this clip coefficient inside the step (fused clipping, from
   * `gradNorm`), instead of scaling the gradients in place with `clipGradNorm` first.
   */
  gradScale?: GradNorm;
}

/**
 * `torch.optim.AdamW` (amsgrad=False, maximize=False), one fused kernel per parameter and step:
 * p *= 1 - lr·wd; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
 * p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps). Parameters without `.grad` are skipped
 * (their step count does not advance), as in PyTorch. Nothing is read back.
 *
 * @example
 * ```ts
 * const opt = new AdamW([{ params: model.parameters(), lr: 1e-4, weightDecay: 0.1 }]);
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export class AdamW {
  /** Parameter groups (mutable lr / weightDecay). */
  readonly groups: AdamWGroup[];
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  #state = new Map<Tensor, AdamWState>();

  constructor(groups: AdamWGroup[], opts: AdamWOptions = {}) {
    this.groups = groups;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    const seen = new Set<Tensor>();
    for (const g of groups) {
      for (const p of g.params) {
        if (seen.has(p)) {
          throw new RangeError(`AdamW: parameter ${p.name ?? ""} appears in two groups`);
        }
        seen.add(p);
        if (!p.isContiguous || p.offset !== 0 || p.dtype !== "f32") {
          throw new RangeError(
            `AdamW: parameter ${p.name ?? ""} must be a dense f32 tensor (got ${p.dtype}, ` +
              `offset ${p.offset})`,
          );
        }
      }
    }
  }

  /** State of one parameter (created zeroed on its first step), for checkpoints. */
  state(p: Tensor): AdamWState | undefined {
    return this.#state.get(p);
  }

  /** Replaces a parameter's state (loading a checkpoint); tensors are kept, not copied. */
  setState(p: Tensor, s: AdamWState): void {
    keep(s.expAvg);
    keep(s.expAvgSq);
    this.#state.set(p, s);
  }

  /** One optimisation step over every group (encoded, not awaited). */
  step(opts: AdamWStepOptions = {}): void {
    const rt = gpu();
    const scaled = opts.gradScale !== undefined;
    const kernel = adamwKernel({ scaled });
    for (const g of this.groups) {
      for (const p of g.params) {
        const grad = p.grad;
        if (!grad || p.size === 0) continue;
        if (!grad.isContiguous || grad.offset !== 0) {
          throw new RangeError(`AdamW: gradient of ${p.name ?? "a parameter"} is not dense`);
        }
        let s = this.#state.get(p);
        if (!s) {
          s = {
            expAvg: keep(zeros(p.shape)),
            expAvgSq: keep(zeros(p.shape)),
            step: 0,
          };
          this.#state.set(p, s);
        }
        s.step++;
        rt.launch(kernel, {
          buffers: [
            p,
            grad,
            s.expAvg,
            s.expAvgSq,
            ...(scaled ? [opts.gradScale!.normAndCoef] : []),
          ].map(bindingOf),
          uniforms: adamwUniforms({
            n: p.size,
            lr: g.lr,
            weightDecay: g.weightDecay,
            beta1: this.beta1,
            beta2: this.beta2,
            eps: this.eps,
            step: s.step,
          }),
          workgroups: optWorkgroups(p.size),
        });
      }
    }
  }

  /** Drops every parameter's `.grad` (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }
}
