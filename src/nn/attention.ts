import { scaledDotProductAttention } from "../tensor/ops/attention.ts";
import { permute, reshape } from "../tensor/ops/layout.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Linear } from "./linear.ts";
import { Module } from "./module.ts";

/** Options of `Attention` (sam2/modeling/sam/transformer.py). */
export interface AttentionOptions {
  /** internal_dim = embeddingDim / downsampleRate. @default 1 */
  downsampleRate?: number;
  /** Attention dropout while training. @default 0 */
  dropout?: number;
  /** Input dim of k_proj and v_proj. @default embeddingDim */
  kvInDim?: number;
}

/**
 * SAM 2's `Attention`: q/k/v projections to internal_dim, heads, fused scaled-dot-product
 * attention, out_proj. State-dict keys `q_proj.*`, `k_proj.*`, `v_proj.*`, `out_proj.*`.
 */
export class Attention extends Module {
  readonly embeddingDim: number;
  readonly internalDim: number;
  readonly numHeads: number;
  readonly dropoutP: number;
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly out_proj: Linear;

  constructor(embeddingDim: number, numHeads: number, opts: AttentionOptions = {}) {
    super();
    this.embeddingDim = embeddingDim;
    this.internalDim = embeddingDim / (opts.downsampleRate ?? 1);
    this.numHeads = numHeads;
    if (!Number.isInteger(this.internalDim) || this.internalDim % numHeads !== 0) {
      throw new RangeError(
        `Attention: num_heads ${numHeads} must divide internal dim ${this.internalDim}`,
      );
    }
    this.dropoutP = opts.dropout ?? 0;
    const kv = opts.kvInDim ?? embeddingDim;
    this.q_proj = this.module("q_proj", new Linear(embeddingDim, this.internalDim));
    this.k_proj = this.module("k_proj", new Linear(kv, this.internalDim));
    this.v_proj = this.module("v_proj", new Linear(kv, this.internalDim));
    this.out_proj = this.module("out_proj", new Linear(this.internalDim, embeddingDim));
  }

  /** [B, N, C] -> [B, heads, N, C/heads] (a strided view). */
  protected separateHeads(x: Tensor): Tensor {
    const [b, n, c] = x.shape;
    return permute(reshape(x, [b, n, this.numHeads, c / this.numHeads]), [0, 2, 1, 3]);
  }

  /** [B, heads, N, c] -> [B, N, heads·c]. */
  protected recombineHeads(x: Tensor): Tensor {
    const [b, h, n, c] = x.shape;
    return reshape(permute(x, [0, 2, 1, 3]), [b, n, h * c]);
  }

  /** q [B, Nq, C], k and v [B, Nk, kvInDim] -> [B, Nq, C]. */
  forward(q: Tensor, k: Tensor, v: Tensor): Tensor {
    const o = scaledDotProductAttention(
      this.separateHeads(this.q_proj.forward(q)),
      this.separateHeads(this.k_proj.forward(k)),
      this.separateHeads(this.v_proj.forward(v)),
      { dropoutP: this.training ? this.dropoutP : 0 },
    );
    return this.out_proj.forward(this.recombineHeads(o));
  }
}

/** Options of `RoPEAttention`. */
export interface RoPEAttentionOptions extends AttentionOptions {
  /** @default 10000 */
  ropeTheta?: number;
  /** Tile the query positions over the keys (cross-attention to memories). @default false */
  ropeKRepeat?: boolean;
}

/**
 * SAM 2's `RoPEAttention` (memory attention): like `Attention` with the axial 2-D rotary
 * encoding of q and k applied inside the fused kernel. The feature map is taken square,
 * sqrt(Nq) x sqrt(Nq), as the reference does; the last `numKExcludeRope` keys (object pointers)
 * are not rotated.
 */
export class RoPEAttention extends Attention {
  readonly ropeTheta: number;
  readonly ropeKRepeat: boolean;

  constructor(embeddingDim: number, numHeads: number, opts: RoPEAttentionOptions = {}) {
    super(embeddingDim, numHeads, opts);
    this.ropeTheta = opts.ropeTheta ?? 10000;
    this.ropeKRepeat = opts.ropeKRepeat ?? false;
  }

  /** q [B, Nq, C], k and v [B, Nk, kvInDim] -> [B, Nq, C]. */
  override forward(q: Tensor, k: Tensor, v: Tensor, numKExcludeRope = 0): Tensor {
    const qh = this.separateHeads(this.q_proj.forward(q));
    const kh = this.separateHeads(this.k_proj.forward(k));
    const vh = this.separateHeads(this.v_proj.forward(v));
    const nq = qh.shape[2], nk = kh.shape[2];
    const side = Math.sqrt(nq);
    if (!Number.isInteger(side)) {
      throw new RangeError(`RoPEAttention: ${nq} queries do not form a square feature map`);
    }
    if (nq !== nk && !this.ropeKRepeat) {
      throw new RangeError(`RoPEAttention: ${nq} queries but ${nk} keys need rope_k_repeat`);
    }
    const o = scaledDotProductAttention(qh, kh, vh, {
      dropoutP: this.training ? this.dropoutP : 0,
      rope: {
        endX: side,
        endY: side,
        theta: this.ropeTheta,
        kRepeat: this.ropeKRepeat,
        numKExclude: numKExcludeRope,
      },
    });
    return this.out_proj.forward(this.recombineHeads(o));
  }
}
