import { dropout } from "../tensor/ops/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** `nn.Dropout(p)`: active in training mode only; draws from the default random stream. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }

  /** Drops elements when training. */
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training });
  }
}
