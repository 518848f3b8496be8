import { ones, zeros } from "../tensor/create.ts";
import { layerNorm } from "../tensor/ops/layer_norm.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** Options of `LayerNorm`. */
export interface LayerNormLayerOptions {
  /** @default 1e-5 */
  eps?: number;
  /** Learnable weight (ones) and bias (zeros). @default true */
  elementwiseAffine?: boolean;
}

/** `nn.LayerNorm(dim)` over the last dim: keys `weight`, `bias` [dim]. */
export class LayerNorm extends Module {
  /** [dim] or null */
  readonly weight: Tensor | null;
  /** [dim] or null */
  readonly bias: Tensor | null;
  /** Variance epsilon. */
  readonly eps: number;
  constructor(readonly dim: number, opts: LayerNormLayerOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = this.param("weight", affine ? ones([dim]) : null);
    this.bias = this.param("bias", affine ? zeros([dim]) : null);
  }

  /** Normalises x [..., dim]. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, { eps: this.eps });
  }
}
