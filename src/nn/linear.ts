import { linear } from "../tensor/ops/matmul.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { biasUniformDefault, kaimingUniformDefault } from "./init.ts";
import { Module } from "./module.ts";

/** Options of `Linear`. */
export interface LinearOptions {
  /** Add a learnable bias. @default true */
  bias?: boolean;
}

/** y = x W^T + b (`nn.Linear`): keys `weight` [out, in] and `bias` [out]; PyTorch's init. */
export class Linear extends Module {
  /** [outFeatures, inFeatures] */
  readonly weight: Tensor;
  /** [outFeatures] or null */
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.weight = this.param("weight", kaimingUniformDefault([outFeatures, inFeatures]));
    this.bias = this.param(
      "bias",
      opts.bias ?? true ? biasUniformDefault(outFeatures, inFeatures) : null,
    );
  }

  /** Applies the layer to x [..., inFeatures]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
