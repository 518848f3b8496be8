import { Linear } from "../../nn/linear.ts";
import { Module } from "../../nn/module.ts";
import { scaledDotProductAttention } from "../../tensor/ops/attention.ts";
import { slice } from "../../tensor/ops/layout.ts";
import type { Tensor } from "../../tensor/mod.ts";
import { poolChannelsLast } from "./pool.ts";

/**
 * Hiera's `MultiScaleAttention` on channels-last windows [B, H, W, dim]: fused qkv, optional
 * max-pooling of q (which shrinks the output grid), softmax attention per head, projection.
 */
export class MultiScaleAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  constructor(
    readonly dim: number,
    readonly dimOut: number,
    readonly numHeads: number,
    readonly qStride: readonly [number, number] | null,
  ) {
    super();
    this.qkv = this.module("qkv", new Linear(dim, dimOut * 3));
    this.proj = this.module("proj", new Linear(dimOut, dimOut));
  }

  forward(x: Tensor): Tensor {
    const [b, h0, w0] = x.shape;
    const heads = this.numHeads, hd = this.dimOut / heads;
    const qkv = this.qkv.forward(x).reshape([b, h0 * w0, 3, heads, hd]);
    const part = (i: number) => slice(qkv, 2, i, i + 1).reshape([b, h0 * w0, heads, hd]);
    let q = part(0);
    const k = part(1), v = part(2);
    let h = h0, w = w0;
    if (this.qStride) {
      const pooled = poolChannelsLast(q.reshape([b, h0, w0, this.dimOut]), this.qStride);
      [h, w] = [pooled.shape[1], pooled.shape[2]];
      q = pooled.reshape([b, h * w, heads, hd]);
    }
    const o = scaledDotProductAttention(
      q.transpose(1, 2),
      k.transpose(1, 2),
      v.transpose(1, 2),
    );
    return this.proj.forward(o.transpose(1, 2).reshape([b, h, w, this.dimOut]));
  }
}
