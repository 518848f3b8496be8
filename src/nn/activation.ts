import { gelu, geluTanh, relu, sigmoid, tanh } from "../tensor/ops/unary.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** Activation names accepted by layers that take one (PyTorch class names in lower case). */
export type ActivationName = "relu" | "gelu" | "gelu_tanh" | "sigmoid" | "tanh" | "identity";

const FNS: Record<ActivationName, (x: Tensor) => Tensor> = {
  relu,
  gelu,
  gelu_tanh: geluTanh,
  sigmoid,
  tanh,
  identity: (x) => x,
};

/** An activation as a parameter-free module (`nn.ReLU()`, `nn.GELU()`, ...). */
export class Activation extends Module {
  readonly #fn: (x: Tensor) => Tensor;
  constructor(readonly kind: ActivationName) {
    super();
    const fn = FNS[kind];
    if (!fn) {
      throw new RangeError(`Unknown activation "${kind}": use ${Object.keys(FNS).join(", ")}`);
    }
    this.#fn = fn;
  }

  /** Applies the activation. */
  forward(x: Tensor): Tensor {
    return this.#fn(x);
  }
}
