import type { Tensor } from "./tensor.ts";

/**
 * Per-call state shared by an op's forward and backward: which inputs need a gradient and the
 * tensors forward saved for backward (held until backward ran or the graph is dropped).
 */
export class OpContext {
  /** `needsGrad[i]`: input i requires a gradient (backward may return null for the others). */
  readonly needsGrad: readonly boolean[];
  /** Whether a tape node will be recorded (forward may skip `save` otherwise). */
  readonly recording: boolean;
  /** Tensors saved by `save`, in order. */
  readonly saved: Tensor[] = [];
  /** Free-form values forward computed for backward (shapes, axes, ...). */
  // deno-lint-ignore no-explicit-any
  data: Record<string, any> = {};

  constructor(needsGrad: readonly boolean[], recording: boolean) {
    this.needsGrad = needsGrad;
    this.recording = recording;
  }

  /** Keeps tensors alive for backward (a no-op when not recording). */
  save(...ts: Tensor[]): void {
    if (!this.recording) return;
    for (const t of ts) this.saved.push(t.alias({ track: false }));
  }

  /** Drops what `save` held. */
  release(): void {
    for (const t of this.saved) t.dispose();
    this.saved.length = 0;
  }
}

/**
 * A differentiable primitive: forward launches kernels, backward gives one gradient per input.
 * See the "How to add an op" section of `src/tensor/mod.ts`.
 */
export interface OpDef<A = undefined> {
  /** Op name (messages, profiler). */
  readonly name: string;
  /**
   * Computes the output. Runs with gradient recording off, so it may call other ops freely.
   * Use `ctx.save(t)` for tensors backward needs (inputs or the output).
   */
  forward(ctx: OpContext, inputs: readonly Tensor[], attrs: A): Tensor;
  /**
   * Gradients of the inputs given the output's gradient `grad` (same shape as the output). Runs
   * with recording off. Return null where `ctx.needsGrad[i]` is false or the input has no
   * gradient. A gradient may have the broadcast (output) shape: the tape sums it down to the
   * input's shape. Omit `backward` for non-differentiable ops (argmax, comparisons).
   */
  backward?(ctx: OpContext, grad: Tensor, attrs: A): readonly (Tensor | null)[];
}
