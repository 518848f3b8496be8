import { gpu } from "../../gpu/runtime.ts";
import {
  ADAMW_FLAT_MAX_SLOTS,
  ADAMW_MAX_SLOTS,
  adamwFlatKernel,
  adamwFlatUniforms,
  adamwKernel,
  adamwMultiKernel,
  adamwMultiUniforms,
  adamwMultiWorkgroups,
  type AdamWSlot,
  adamwUniforms,
  OPT_WG,
  optWorkgroups,
} from "../../kernels/adamw.ts";
import { zeros } from "../../tensor/create.ts";
import { bindingOf, planChunks } from "../../tensor/launch.ts";
import { copyContiguous } from "../../tensor/ops/layout.ts";
import { keep } from "../../tensor/scope.ts";
import { contiguousStrides, fmtShape } from "../../tensor/shape.ts";
import { Tensor } from "../../tensor/tensor.ts";
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
  /**
   * Update many parameters per dispatch (their m and v in flat buffers) instead of one dispatch
   * per parameter. Both give bitwise the same parameters and state. @default true
   */
  multiTensor?: boolean;
  /**
   * How a multi-tensor step reaches parameters and gradients: "gather" copies them (buffer
   * copies, not dispatches) into flat scratch buffers, updates each flat buffer in one dispatch
   * and copies the parameters back; "bind" binds up to 16 parameter/gradient pairs per dispatch
   * and picks the pair per workgroup (no copies, but on lavapipe every lane pays for every
   * pair's branch: 2.5x slower there). @default "gather" on CPU adapters, "bind" on GPUs
   */
  multiTensorMode?: "gather" | "bind";
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

/** A flat pair of state buffers shared by several parameters (multi-tensor mode). */
interface Bucket {
  m: Tensor;
  v: Tensor;
  /** u32 per OPT_WG elements: the index of the member there (the gather kernel's table). */
  wgSlot: Tensor;
  /** Number of parameters packed here. */
  members: number;
  /** Parameters whose state still lives here (the buffers go when the last one leaves). */
  live: number;
}

/**
 * A parameter's state: "own" tensors, views of a `bucket` at `offset`, or "new" (no tensors yet:
 * multi-tensor mode creates them zeroed in a bucket; `expAvg`/`expAvgSq` are placeholders).
 */
interface Entry extends AdamWState {
  kind: "own" | "bucket" | "new";
  bucket: Bucket | null;
  /** Element offset in the bucket (a multiple of OPT_WG). */
  offset: number;
  /** Position among the bucket's members. */
  index: number;
}

/** One parameter of a step: the tensor, its gradient, its group, its state. */
interface Active {
  p: Tensor;
  grad: Tensor;
  group: AdamWGroup;
  entry: Entry;
}

/**
 * `torch.optim.AdamW` (amsgrad=False, maximize=False): p *= 1 - lr·wd; m = β1·m + (1-β1)·g;
 * v = β2·v + (1-β2)·g²; p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps), with per-group lr
 * and weight decay and a per-parameter step count. Parameters without `.grad` are skipped (their
 * step count does not advance), as in PyTorch. Nothing is read back.
 *
 * Multi-tensor mode (the default): the m and v of the parameters that get a gradient are packed
 * into flat buffers (each at most one storage binding and 1024 parameters; every parameter on a
 * 256-element boundary), and `state(p)` returns views into them. "gather" (default on CPU
 * adapters) copies the parameters and gradients of a flat buffer into flat scratch with buffer
 * copies, updates it in one dispatch (vec4 loads) and copies the parameters back: a SAM 2 step
 * is ~1500 copies and 1-2 dispatches instead of ~500 dispatches. "bind" (default on GPUs, where
 * the copies would cost more than they save) binds up to 16 parameter/gradient pairs per
 * dispatch. Both give bitwise the per-tensor results. A parameter above the storage binding
 * limit is updated on its own, in windows. `multiTensor: false` keeps one state tensor pair and
 * one dispatch per parameter.
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
  /** Whether steps use the multi-tensor kernel (see the class doc). */
  readonly multiTensor: boolean;
  /** How multi-tensor steps reach parameters and gradients (see `AdamWOptions`). */
  readonly multiTensorMode: "gather" | "bind";
  #state = new Map<Tensor, Entry>();
  /** Flat parameter and gradient scratch of the gather mode (as large as the largest bucket). */
  #scratch: { p: Tensor; g: Tensor } | null = null;

  constructor(groups: AdamWGroup[], opts: AdamWOptions = {}) {
    this.groups = groups;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.multiTensor = opts.multiTensor ?? true;
    this.multiTensorMode = opts.multiTensorMode ?? (gpu().isCpuAdapter ? "gather" : "bind");
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

  /**
   * Replaces a parameter's state (loading a checkpoint). The tensors are kept and owned by the
   * optimiser; in multi-tensor mode the next step copies them into its flat buffers and releases
   * them (`state(p)` then returns views of those buffers).
   *
   * @throws {RangeError} when a state tensor's shape or dtype differs from the parameter's.
   */
  setState(p: Tensor, s: AdamWState): void {
    for (const t of [s.expAvg, s.expAvgSq]) {
      if (t.dtype !== "f32" || t.size !== p.size || t.shape.length !== p.shape.length) {
        throw new RangeError(
          `AdamW.setState: state ${fmtShape(t.shape)} ${t.dtype} does not match parameter ` +
            `${p.name ?? ""}${fmtShape(p.shape)} f32`,
        );
      }
    }
    this.#leave(this.#state.get(p));
    keep(s.expAvg);
    keep(s.expAvgSq);
    this.#state.set(p, {
      kind: "own",
      expAvg: s.expAvg,
      expAvgSq: s.expAvgSq,
      step: s.step,
      bucket: null,
      offset: 0,
      index: 0,
    });
  }

  /** One optimisation step over every group (encoded, not awaited). */
  step(opts: AdamWStepOptions = {}): void {
    const active: Active[] = [];
    for (const group of this.groups) {
      for (const p of group.params) {
        const grad = p.grad;
        if (!grad || p.size === 0) continue;
        if (!grad.isContiguous || grad.offset !== 0 || grad.size !== p.size) {
          throw new RangeError(
            `AdamW: gradient ${fmtShape(grad.shape)} of ${p.name ?? "a parameter"} is not a ` +
              `dense tensor of the parameter's ${p.size} elements`,
          );
        }
        let entry = this.#state.get(p);
        if (!entry) {
          entry = this.multiTensor
            ? { kind: "new", expAvg: p, expAvgSq: p, step: 0, bucket: null, offset: 0, index: 0 }
            : {
              kind: "own",
              expAvg: keep(zeros(p.shape)),
              expAvgSq: keep(zeros(p.shape)),
              step: 0,
              bucket: null,
              offset: 0,
              index: 0,
            };
          this.#state.set(p, entry);
        }
        active.push({ p, grad, group, entry });
      }
    }
    if (this.multiTensor) this.#pack(active);
    for (const a of active) a.entry.step++;
    const gather = this.multiTensorMode === "gather";
    const slots = gather ? Infinity : this.#slotsPerDispatch(opts.gradScale !== undefined);
    const single: Active[] = [];
    const byBucket = new Map<Bucket, Active[]>();
    for (const a of active) {
      const b = a.entry.bucket;
      if (!b || slots < 1) single.push(a);
      else {
        let list = byBucket.get(b);
        if (!list) byBucket.set(b, list = []);
        list.push(a);
      }
    }
    for (const [b, list] of byBucket) {
      for (let i = 0; i < list.length; i += slots) {
        const part = list.slice(i, i + slots);
        if (gather) this.#launchGathered(b, part, opts);
        else this.#launchMulti(b, part, opts);
      }
    }
    for (const a of single) this.#launchSingle(a, opts);
  }

  /** Parameters per multi-tensor dispatch: two storage bindings each besides m, v and scale. */
  #slotsPerDispatch(scaled: boolean): number {
    const max = gpu().device.limits.maxStorageBuffersPerShaderStage;
    return Math.min(ADAMW_MAX_SLOTS, Math.floor((max - 2 - (scaled ? 1 : 0)) / 2));
  }

  /**
   * Moves the state of active parameters that are not in a bucket yet (new ones, zeroed, and
   * ones restored by `setState`, copied) into new flat buckets of at most one binding each.
   * A parameter above that stays on its own tensors.
   */
  #pack(active: Active[]): void {
    const todo = active.filter((a) => a.entry.kind !== "bucket");
    if (todo.length === 0) return;
    const cap = Math.floor(gpu().maxBinding / 4 / OPT_WG) * OPT_WG;
    // Each parameter starts on a workgroup boundary of the flat buffers.
    const padded = (n: number) => Math.ceil(n / OPT_WG) * OPT_WG;
    let batch: Active[] = [];
    let total = 0;
    const flush = () => {
      if (batch.length === 0) return;
      const table = new Uint32Array(total / OPT_WG);
      const bucket: Bucket = {
        m: keep(zeros([total])),
        v: keep(zeros([total])),
        wgSlot: keep(Tensor.empty([table.length], "u32")),
        members: batch.length,
        live: batch.length,
      };
      let off = 0;
      for (const [index, a] of batch.entries()) {
        table.fill(index, off / OPT_WG, (off + padded(a.p.size)) / OPT_WG);
        const e = a.entry;
        const strides = contiguousStrides(a.p.shape);
        const m = keep(bucket.m.view(a.p.shape, strides, off));
        const v = keep(bucket.v.view(a.p.shape, strides, off));
        if (e.kind === "own") {
          // Restored state: copy it in, then release the given tensors.
          for (const [src, dst] of [[e.expAvg, bucket.m], [e.expAvgSq, bucket.v]] as const) {
            const dense = src.isContiguous ? src : keep(copyContiguous(src));
            gpu().copy(
              dense.storage.buffer,
              dense.offset * 4,
              dst.storage.buffer,
              off * 4,
              a.p.size * 4,
            );
            if (dense !== src) dense.dispose();
            src.dispose();
          }
        }
        Object.assign(e, { kind: "bucket", expAvg: m, expAvgSq: v, bucket, offset: off, index });
        off += padded(a.p.size);
      }
      gpu().write(bucket.wgSlot.storage.buffer, 0, table);
      batch = [];
      total = 0;
    };
    for (const a of todo) {
      const n = a.p.size;
      if (padded(n) > cap) {
        if (a.entry.kind === "new") {
          Object.assign(a.entry, {
            kind: "own",
            expAvg: keep(zeros(a.p.shape)),
            expAvgSq: keep(zeros(a.p.shape)),
            offset: 0,
          });
        }
        continue;
      }
      if (total + padded(n) > cap || batch.length >= ADAMW_FLAT_MAX_SLOTS) flush();
      batch.push(a);
      total += padded(n);
    }
    flush();
  }

  /** Drops an entry's hold on its bucket (or its own tensors). */
  #leave(e: Entry | undefined): void {
    if (!e || e.kind === "new") return;
    e.expAvg.dispose();
    e.expAvgSq.dispose();
    if (e.bucket && --e.bucket.live === 0) {
      e.bucket.m.dispose();
      e.bucket.v.dispose();
      e.bucket.wgSlot.dispose();
    }
  }

  /** Copies parameters and gradients into flat scratch, one dispatch, parameters back. */
  #launchGathered(bucket: Bucket, list: Active[], opts: AdamWStepOptions): void {
    const rt = gpu();
    const size = bucket.m.size;
    if (!this.#scratch || this.#scratch.p.size < size) {
      this.#scratch?.p.dispose();
      this.#scratch?.g.dispose();
      this.#scratch = { p: keep(Tensor.empty([size])), g: keep(Tensor.empty([size])) };
    }
    const P = this.#scratch.p.storage.buffer, G = this.#scratch.g.storage.buffer;
    for (const a of list) {
      const at = a.entry.offset * 4, bytes = a.p.size * 4;
      rt.copy(a.p.storage.buffer, 0, P, at, bytes);
      rt.copy(a.grad.storage.buffer, 0, G, at, bytes);
    }
    const scaled = opts.gradScale !== undefined;
    const members: (AdamWSlot | null)[] = new Array(bucket.members).fill(null);
    this.#slots(list).forEach((slot, k) => members[list[k].entry.index] = slot);
    rt.launch(adamwFlatKernel({ capacity: members.length, scaled }), {
      buffers: [
        bindingOf(this.#scratch.p),
        bindingOf(this.#scratch.g),
        bindingOf(bucket.m),
        bindingOf(bucket.v),
        bindingOf(bucket.wgSlot),
        ...(scaled ? [bindingOf(opts.gradScale!.normAndCoef)] : []),
      ],
      uniforms: adamwFlatUniforms(members, this, size),
      workgroups: optWorkgroups(size),
    });
    for (const a of list) rt.copy(P, a.entry.offset * 4, a.p.storage.buffer, 0, a.p.size * 4);
  }

  #slots(list: Active[]): AdamWSlot[] {
    return list.map((a) => ({
      n: a.p.size,
      stateOffset: a.entry.offset,
      lr: a.group.lr,
      weightDecay: a.group.weightDecay,
      step: a.entry.step,
    }));
  }

  #launchMulti(bucket: Bucket, list: Active[], opts: AdamWStepOptions): void {
    const scaled = opts.gradScale !== undefined;
    const slots = this.#slots(list);
    gpu().launch(adamwMultiKernel({ slots: list.length, scaled }), {
      buffers: [
        bindingOf(bucket.m),
        bindingOf(bucket.v),
        ...(scaled ? [bindingOf(opts.gradScale!.normAndCoef)] : []),
        ...list.flatMap((a) => [bindingOf(a.p), bindingOf(a.grad)]),
      ],
      uniforms: adamwMultiUniforms(slots, this),
      workgroups: adamwMultiWorkgroups(slots),
    });
  }

  /** One parameter, one kernel; windows where it is above the binding limit. */
  #launchSingle(a: Active, opts: AdamWStepOptions): void {
    const scaled = opts.gradScale !== undefined;
    const { p, grad, entry } = a;
    const chunks = planChunks("adamw", [p.size], [
      { tensor: p, offset: p.offset, strides: [1] },
      { tensor: grad, offset: grad.offset, strides: [1] },
      { tensor: entry.expAvg, offset: entry.expAvg.offset, strides: [1] },
      { tensor: entry.expAvgSq, offset: entry.expAvgSq.offset, strides: [1] },
    ]);
    for (const c of chunks) {
      const n = c.shape[0];
      gpu().launch(adamwKernel({ scaled }), {
        buffers: [...c.bindings, ...(scaled ? [bindingOf(opts.gradScale!.normAndCoef)] : [])],
        uniforms: adamwUniforms({
          n,
          lr: a.group.lr,
          weightDecay: a.group.weightDecay,
          beta1: this.beta1,
          beta2: this.beta2,
          eps: this.eps,
          step: entry.step,
          offsets: c.offsets as [number, number, number, number],
        }),
        workgroups: optWorkgroups(n),
      });
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
