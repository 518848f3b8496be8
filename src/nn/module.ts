import { gpu } from "../gpu/runtime.ts";
import { runElementwise } from "../tensor/launch.ts";
import { keep } from "../tensor/scope.ts";
import { fmtShape, numel, sameShape } from "../tensor/shape.ts";
import { halfToFloat, Tensor } from "../tensor/tensor.ts";

/**
 * Raw little-endian bytes with a torch dtype name (the shape of `HostTensor` from
 * src/checkpoint, which this layer does not import).
 */
export interface HostBytes {
  /** torch dtype name: float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool. */
  dtype: string;
  shape: readonly number[];
  data: Uint8Array;
}

/** A state-dict value: a GPU tensor, CPU numbers with their shape, or a checkpoint's bytes. */
export type StateValue =
  | Tensor
  | { shape: readonly number[]; data: ArrayLike<number> }
  | HostBytes;

function isHostBytes(v: StateValue): v is HostBytes {
  return !(v instanceof Tensor) && typeof (v as HostBytes).dtype === "string" &&
    v.data instanceof Uint8Array;
}

/** Decodes checkpoint bytes to numbers (f32 for floats, exact for integers up to 2^53). */
export function decodeHostBytes(v: HostBytes): Float32Array | Int32Array | Float64Array {
  const n = numel(v.shape);
  const b = v.data.slice(); // aligned copy
  const buf = b.buffer;
  switch (v.dtype) {
    case "float32":
      return new Float32Array(buf, 0, n);
    case "float64":
      return Float32Array.from(new Float64Array(buf, 0, n));
    case "float16": {
      const h = new Uint16Array(buf, 0, n);
      return Float32Array.from(h, halfToFloat);
    }
    case "bfloat16": {
      const h = new Uint16Array(buf, 0, n);
      const u = new Uint32Array(n);
      for (let i = 0; i < n; i++) u[i] = h[i] << 16;
      return new Float32Array(u.buffer);
    }
    case "int64":
      return Float64Array.from(new BigInt64Array(buf, 0, n), Number);
    case "int32":
      return new Int32Array(buf, 0, n);
    case "int16":
      return Int32Array.from(new Int16Array(buf, 0, n));
    case "int8":
      return Int32Array.from(new Int8Array(buf, 0, n));
    case "uint8":
    case "bool":
      return Int32Array.from(new Uint8Array(buf, 0, n));
    default:
      throw new TypeError(`Cannot load a "${v.dtype}" checkpoint tensor`);
  }
}

/** What `loadStateDict` found, by key. */
export interface LoadReport {
  /** Keys the module has but the map lacks. */
  missing: string[];
  /** Keys the map has but the module lacks. */
  unexpected: string[];
  /** Keys present in both with different shapes (`key: ours vs theirs`). */
  mismatched: string[];
}

/** Options of `loadStateDict`. */
export interface LoadOptions {
  /** Throw when any key is missing, unexpected or mismatched. @default true */
  strict?: boolean;
}

/** Raised by a strict `loadStateDict`; `report` lists the keys. */
export class StateDictError extends Error {
  /** Missing/unexpected/mismatched keys. */
  readonly report: LoadReport;
  constructor(report: LoadReport) {
    const parts = [
      report.missing.length ? `missing keys: ${report.missing.join(", ")}` : "",
      report.unexpected.length ? `unexpected keys: ${report.unexpected.join(", ")}` : "",
      report.mismatched.length ? `shape mismatches: ${report.mismatched.join(", ")}` : "",
    ].filter(Boolean);
    super(`Cannot load state dict: ${parts.join("; ")}`);
    this.name = "StateDictError";
    this.report = report;
  }
}

/**
 * Base of every layer: named parameters, buffers and child modules, registered under the
 * attribute names PyTorch uses, so `stateDict()` keys equal PyTorch's
 * (`blocks.0.attn.qkv.weight`). Subclasses register in their constructor:
 *
 * ```ts
 * class Foo extends Module {
 *   readonly proj = this.module("proj", new Linear(8, 8));
 *   readonly scale = this.param("scale", ones([8]));
 *   forward(x: Tensor): Tensor { return this.proj.forward(x).mul(this.scale); }
 * }
 * ```
 */
export class Module {
  /** Training mode (dropout active); `eval()` turns it off recursively. */
  training = true;
  #params = new Map<string, Tensor | null>();
  #buffers = new Map<string, { t: Tensor | null; persistent: boolean }>();
  #children = new Map<string, Module | null>();

  /** Registers a parameter: a kept leaf with `requiresGrad`, named by its key. */
  protected param(name: string, t: Tensor): Tensor;
  protected param(name: string, t: Tensor | null): Tensor | null;
  protected param(name: string, t: Tensor | null): Tensor | null {
    if (t) {
      keep(t);
      t.requiresGrad = true;
      t.name = name;
    }
    this.#params.set(name, t);
    return t;
  }

  /** Registers a buffer (state that is not trained; `persistent` ones are in the state dict). */
  protected buffer(name: string, t: Tensor | null, opts: { persistent?: boolean } = {}): Tensor {
    if (t) keep(t);
    this.#buffers.set(name, { t, persistent: opts.persistent ?? true });
    return t as Tensor;
  }

  /** Registers a child module under `name`. */
  protected module<M extends Module | null>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  /** Replaces a registered parameter's tensor (e.g. tying weights); disposes nothing. */
  protected setParam(name: string, t: Tensor): void {
    if (!this.#params.has(name)) throw new Error(`No parameter "${name}"`);
    this.param(name, t);
  }

  /** Child modules with their names. */
  namedChildren(): [string, Module][] {
    return [...this.#children].filter((e): e is [string, Module] => e[1] !== null);
  }

  /** This module and every descendant, with dotted names ("" for this one). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.namedChildren()) {
      out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    }
    return out;
  }

  /** Every parameter with its dotted key, in registration order (PyTorch's order). */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.#params) if (t) out.push([prefix ? `${prefix}.${n}` : n, t]);
    for (const [n, c] of this.namedChildren()) {
      out.push(...c.namedParameters(prefix ? `${prefix}.${n}` : n));
    }
    return out;
  }

  /** Every parameter. */
  parameters(): Tensor[] {
    return this.namedParameters().map((e) => e[1]);
  }

  /** Every buffer with its dotted key (persistent and not). */
  namedBuffers(prefix = ""): [string, Tensor, boolean][] {
    const out: [string, Tensor, boolean][] = [];
    for (const [n, b] of this.#buffers) {
      if (b.t) out.push([prefix ? `${prefix}.${n}` : n, b.t, b.persistent]);
    }
    for (const [n, c] of this.namedChildren()) {
      out.push(...c.namedBuffers(prefix ? `${prefix}.${n}` : n));
    }
    return out;
  }

  /**
   * Parameters and persistent buffers by PyTorch key (registration order: a module's own
   * parameters, then its buffers, then each child, as `state_dict()` orders them).
   */
  stateDict(prefix = ""): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const p = (n: string) => prefix ? `${prefix}.${n}` : n;
    for (const [n, t] of this.#params) if (t) out.set(p(n), t);
    for (const [n, b] of this.#buffers) if (b.t && b.persistent) out.set(p(n), b.t);
    for (const [n, c] of this.namedChildren()) {
      for (const [k, v] of c.stateDict(p(n))) out.set(k, v);
    }
    return out;
  }

  /**
   * Copies values into the existing parameters/buffers (tensors keep their identity, so
   * optimisers holding them stay valid). Reports missing, unexpected and mismatched keys;
   * `strict` (default) throws on any of them before copying anything.
   *
   * @throws {StateDictError} in strict mode when keys or shapes disagree.
   */
  loadStateDict(
    values: Map<string, StateValue> | Record<string, StateValue>,
    opts: LoadOptions = {},
  ): LoadReport {
    const src = values instanceof Map ? values : new Map(Object.entries(values));
    const own = this.stateDict();
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [] };
    for (const k of own.keys()) if (!src.has(k)) report.missing.push(k);
    for (const [k, v] of src) {
      const t = own.get(k);
      if (!t) report.unexpected.push(k);
      else if (!sameShape(t.shape, v.shape)) {
        report.mismatched.push(`${k}: ${fmtShape(t.shape)} vs ${fmtShape(v.shape)}`);
      }
    }
    const bad = report.missing.length + report.unexpected.length + report.mismatched.length;
    if ((opts.strict ?? true) && bad > 0) throw new StateDictError(report);
    const mismatched = new Set(report.mismatched.map((s) => s.slice(0, s.indexOf(":"))));
    for (const [k, t] of own) {
      const v = src.get(k);
      if (!v || mismatched.has(k)) continue;
      copyInto(t, v);
    }
    return report;
  }

  /** Sets training mode recursively. */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  /** Evaluation mode (dropout off). */
  eval(): this {
    return this.train(false);
  }

  /** Turns gradients of every parameter on or off (frozen parameters cost no gradient memory). */
  requiresGrad(on = true): this {
    for (const p of this.parameters()) {
      p.requiresGrad = on;
      if (!on && p.grad) {
        p.grad.dispose();
        p.grad = null;
      }
    }
    return this;
  }

  /** Drops every parameter's `.grad` (like `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((s, p) => s + numel(p.shape), 0);
  }

  /** Frees every parameter, gradient and buffer. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.dispose();
    }
    for (const [, b] of this.namedBuffers()) b.dispose();
  }
}

/** A trainable tensor (PyTorch's `nn.Parameter`): a kept leaf with `requiresGrad`. */
export type Parameter = Tensor;

/**
 * Marks `t` as a parameter: `requiresGrad` on, exempt from `tidy` scopes. Modules do this
 * through `this.param(name, t)`; use it for free-standing trainable tensors.
 */
export function parameter(t: Tensor, name?: string): Parameter {
  keep(t);
  t.requiresGrad = true;
  if (name) t.name = name;
  return t;
}

/** Copies a state value into a tensor (same shape) in stream order. */
export function copyInto(t: Tensor, v: StateValue): void {
  if (v instanceof Tensor) {
    runElementwise("copy", "x0", [v], { out: t });
    return;
  }
  if (!t.isContiguous) throw new Error(`Cannot load into a non-contiguous tensor ${t}`);
  const src: ArrayLike<number> = isHostBytes(v) ? decodeHostBytes(v) : v.data;
  let data: ArrayBufferView;
  if (t.dtype === "f32") data = src instanceof Float32Array ? src : Float32Array.from(src);
  else if (t.dtype === "i32") data = Int32Array.from(src);
  else if (t.dtype === "u32") data = Uint32Array.from(src);
  else throw new Error(`Loading CPU data into ${t.dtype} tensors is not supported; cast after`);
  gpu().write(t.storage.buffer, t.offset * 4, data);
}
