import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** A module with a one-tensor forward (what `Sequential` chains). */
export interface Forward {
  forward(x: Tensor): Tensor;
}

/** `nn.ModuleList`: children named "0", "1", ... (keys `layers.0.weight`). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly #items: M[] = [];
  constructor(items: Iterable<M> = []) {
    super();
    for (const m of items) this.append(m);
  }

  /** Adds a module under the next index. */
  append(m: M): this {
    this.module(String(this.#items.length), m);
    this.#items.push(m);
    return this;
  }

  /** The i-th module (negative counts from the end). */
  at(i: number): M {
    const m = this.#items.at(i);
    if (!m) {
      throw new RangeError(`ModuleList index ${i} out of range (length ${this.#items.length})`);
    }
    return m;
  }

  /** Number of modules. */
  get length(): number {
    return this.#items.length;
  }

  /** Iterates the modules in order. */
  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
}

/** `nn.Sequential`: children "0", "1", ... applied in order. */
export class Sequential extends ModuleList<Module & Forward> {
  /** Applies each module in turn. */
  forward(x: Tensor): Tensor {
    for (const m of this) x = m.forward(x);
    return x;
  }
}

/** `nn.Identity`. */
export class Identity extends Module {
  /** Returns x. */
  forward(x: Tensor): Tensor {
    return x;
  }
}
