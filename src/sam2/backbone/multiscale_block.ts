import { LayerNorm } from "../../nn/layer_norm.ts";
import { Linear } from "../../nn/linear.ts";
import { MLP } from "../../nn/mlp.ts";
import { Module } from "../../nn/module.ts";
import { dropPath } from "../../tensor/ops/random.ts";
import type { Tensor } from "../../tensor/mod.ts";
import { MultiScaleAttention } from "./multiscale_attention.ts";
import { poolChannelsLast } from "./pool.ts";
import { paddedSize, windowPartition, windowUnpartition } from "./window.ts";

/** Options of one Hiera block. */
export interface MultiScaleBlockOptions {
  dim: number;
  dimOut: number;
  numHeads: number;
  /** Stochastic depth of both residual branches (training only). */
  dropPath: number;
  /** Present on the first block of a pooled stage. */
  qStride: readonly [number, number] | null;
  /** 0 = global attention. */
  windowSize: number;
  /** @default 4 */
  mlpRatio?: number;
}

/**
 * Hiera's `MultiScaleBlock` on channels-last [B, H, W, dim]. When the width changes, the shortcut
 * is `pool(proj(norm1(x)))` — projected after norm1, not from the raw input (quirk 2). With
 * q-pooling inside windows, the output is unpartitioned with `window / stride` windows over the
 * pooled grid.
 */
export class MultiScaleBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiScaleAttention;
  readonly norm2: LayerNorm;
  readonly mlp: MLP;
  readonly proj: Linear | null;
  constructor(readonly opts: MultiScaleBlockOptions) {
    super();
    const { dim, dimOut, numHeads, qStride } = opts;
    this.norm1 = this.module("norm1", new LayerNorm(dim, { eps: 1e-6 }));
    this.attn = this.module("attn", new MultiScaleAttention(dim, dimOut, numHeads, qStride));
    this.norm2 = this.module("norm2", new LayerNorm(dimOut, { eps: 1e-6 }));
    const hidden = Math.trunc(dimOut * (opts.mlpRatio ?? 4));
    this.mlp = this.module("mlp", new MLP(dimOut, hidden, dimOut, 2, { activation: "gelu" }));
    this.proj = dim !== dimOut ? this.module("proj", new Linear(dim, dimOut)) : null;
  }

  forward(x: Tensor): Tensor {
    const { windowSize, qStride } = this.opts;
    let shortcut = x;
    x = this.norm1.forward(x);
    if (this.proj) {
      const p = this.proj.forward(x);
      shortcut = qStride ? poolChannelsLast(p, qStride) : p;
    }
    let [h, w] = [x.shape[1], x.shape[2]];
    let padded = { hp: h, wp: w };
    if (windowSize > 0) {
      const part = windowPartition(x, windowSize);
      x = part.windows;
      padded = part;
    }
    x = this.attn.forward(x);
    let ws = windowSize;
    if (qStride) {
      ws = Math.floor(windowSize / qStride[0]);
      [h, w] = [shortcut.shape[1], shortcut.shape[2]];
      padded = { hp: paddedSize(h, ws), wp: paddedSize(w, ws) };
    }
    if (windowSize > 0) x = windowUnpartition(x, ws, padded, { h, w });
    x = shortcut.add(this.#dropPath(x));
    return x.add(this.#dropPath(this.mlp.forward(this.norm2.forward(x))));
  }

  #dropPath(x: Tensor): Tensor {
    return this.training && this.opts.dropPath > 0 ? dropPath(x, this.opts.dropPath) : x;
  }
}
