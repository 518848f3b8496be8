import { indexSelect } from "../tensor/ops/index.ts";
import { reshape } from "../tensor/ops/layout.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { normalInit } from "./init.ts";
import { Module } from "./module.ts";

/** `nn.Embedding(num, dim)`: key `weight` [num, dim], N(0, 1) init; indices are i32. */
export class Embedding extends Module {
  /** [num, dim] */
  readonly weight: Tensor;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number) {
    super();
    this.weight = this.param("weight", normalInit([numEmbeddings, embeddingDim]));
  }

  /** Rows of the table for i32 indices of any shape -> [...idx.shape, dim]. */
  forward(idx: Tensor): Tensor {
    const flat = idx.rank === 1 ? idx : reshape(idx, [idx.size]);
    return reshape(indexSelect(this.weight, 0, flat), [...idx.shape, this.embeddingDim]);
  }
}
