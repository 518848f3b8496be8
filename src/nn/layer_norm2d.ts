import { ones, zeros } from "../tensor/create.ts";
import { layerNorm2d } from "../tensor/ops/layer_norm2d.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** Options of `LayerNorm2d`. */
export interface LayerNorm2dLayerOptions {
  /** Added to the variance. @default 1e-6 */
  eps?: number;
}

/**
 * SAM 2's `LayerNorm2d` (sam2/modeling/sam2_utils.py): layer norm over the channels of NCHW with
 * the biased variance. Keys `weight` [C] (init 1) and `bias` [C] (init 0), as in PyTorch.
 */
export class LayerNorm2d extends Module {
  /** [numChannels] */
  readonly weight: Tensor;
  /** [numChannels] */
  readonly bias: Tensor;
  /** Added to the variance. */
  readonly eps: number;
  constructor(readonly numChannels: number, opts: LayerNorm2dLayerOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-6;
    this.weight = this.param("weight", ones([numChannels]));
    this.bias = this.param("bias", zeros([numChannels]));
  }

  /** Normalises x [N, C, H, W]. */
  forward(x: Tensor): Tensor {
    return layerNorm2d(x, this.weight, this.bias, { eps: this.eps });
  }
}
