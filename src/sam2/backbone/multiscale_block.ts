import { LayerNorm } from "../../nn/layer_norm.ts";
import { Linear } from "../../nn/linear.ts";
import { MLP } from "../../nn/mlp.ts";
import { Module } from "../../nn/module.ts";
import { nextRandomKey } from "../../tensor/philox.ts";
import { dropPath, type RandomOptions } from "../../tensor/ops/random.ts";
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
 * Philox keys of a block's two drop-path branches. A checkpointed block draws them before its
 * forward so that the recomputation in backward drops the same samples.
 */
export interface DropPathKeys {
  attn: RandomOptions;
  mlp: RandomOptions;
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

  /**
   * Draws the drop-path keys `forward` would draw from the default stream (same order and
   * advance), or undefined when nothing is dropped (eval, or a rate of 0).
   */
  dropPathKeys(batch: number): DropPathKeys | undefined {
    if (!this.training || this.opts.dropPath <= 0) return undefined;
    return { attn: nextRandomKey(batch / 4), mlp: nextRandomKey(batch / 4) };
  }

  /** `keys` fixes the drop-path masks (see `dropPathKeys`); without them the stream is used. */
  forward(x: Tensor, keys?: DropPathKeys): Tensor {
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
    x = shortcut.add(this.#dropPath(x, keys?.attn));
    return x.add(this.#dropPath(this.mlp.forward(this.norm2.forward(x)), keys?.mlp));
  }

  #dropPath(x: Tensor, key?: RandomOptions): Tensor {
    return this.training && this.opts.dropPath > 0 ? dropPath(x, this.opts.dropPath, key) : x;
  }
}
