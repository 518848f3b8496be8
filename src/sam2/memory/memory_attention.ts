import { Attention, RoPEAttention } from "../../nn/attention.ts";
import { ModuleList } from "../../nn/containers.ts";
import { LayerNorm } from "../../nn/layer_norm.ts";
import { Linear } from "../../nn/linear.ts";
import { Module } from "../../nn/module.ts";
import { dropout, gelu, relu, type Tensor } from "../../tensor/mod.ts";
import type {
  AttentionConfig,
  MemoryAttentionConfig,
  MemoryAttentionLayerConfig,
  RoPEAttentionConfig,
} from "../config/mod.ts";

function buildAttention(cfg: RoPEAttentionConfig | AttentionConfig): Attention {
  const opts = {
    downsampleRate: cfg.downsample_rate,
    dropout: cfg.dropout,
    kvInDim: cfg.kv_in_dim ?? undefined,
  };
  if (cfg._target_ === "sam2.modeling.sam.transformer.RoPEAttention") {
    return new RoPEAttention(cfg.embedding_dim, cfg.num_heads, {
      ...opts,
      ropeTheta: cfg.rope_theta,
      ropeKRepeat: cfg.rope_k_repeat,
    });
  }
  return new Attention(cfg.embedding_dim, cfg.num_heads, opts);
}

/**
 * `MemoryAttentionLayer`: pre-norm self-attention over the current frame's tokens, cross-
 * attention to the memories (keys get their position encoding; object-pointer tokens at the end
 * are excluded from RoPE), and a feed-forward block; dropout after each when training.
 */
export class MemoryAttentionLayer extends Module {
  readonly self_attn: Attention;
  readonly cross_attn_image: Attention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;
  constructor(readonly config: MemoryAttentionLayerConfig) {
    super();
    if (config.activation === "glu") {
      throw new RangeError('MemoryAttentionLayer: activation "glu" is not supported');
    }
    const d = config.d_model;
    this.self_attn = this.module("self_attn", buildAttention(config.self_attention));
    this.cross_attn_image = this.module("cross_attn_image", buildAttention(config.cross_attention));
    this.linear1 = this.module("linear1", new Linear(d, config.dim_feedforward));
    this.linear2 = this.module("linear2", new Linear(config.dim_feedforward, d));
    this.norm1 = this.module("norm1", new LayerNorm(d));
    this.norm2 = this.module("norm2", new LayerNorm(d));
    this.norm3 = this.module("norm3", new LayerNorm(d));
  }

  #drop(x: Tensor): Tensor {
    const p = this.config.dropout;
    return this.training && p > 0 ? dropout(x, p) : x;
  }

  #attend(attn: Attention, q: Tensor, k: Tensor, v: Tensor, numKExcludeRope: number): Tensor {
    if (attn instanceof RoPEAttention) return attn.forward(q, k, v, numKExcludeRope);
    return attn.forward(q, k, v);
  }

  /** tgt [B, N, C], memory [B, M, Cm], positions alike -> [B, N, C]. */
  forward(tgt: Tensor, memory: Tensor, pos: Tensor, queryPos: Tensor, numKExcludeRope = 0): Tensor {
    const c = this.config;
    let t2 = this.norm1.forward(tgt);
    const qk = c.pos_enc_at_attn ? t2.add(queryPos) : t2;
    tgt = tgt.add(this.#drop(this.#attend(this.self_attn, qk, qk, t2, 0)));
    t2 = this.norm2.forward(tgt);
    t2 = this.#attend(
      this.cross_attn_image,
      c.pos_enc_at_cross_attn_queries ? t2.add(queryPos) : t2,
      c.pos_enc_at_cross_attn_keys ? memory.add(pos) : memory,
      memory,
      numKExcludeRope,
    );
    tgt = tgt.add(this.#drop(t2));
    t2 = this.norm3.forward(tgt);
    const act = c.activation === "gelu" ? gelu : relu;
    t2 = this.linear2.forward(this.#drop(act(this.linear1.forward(t2))));
    return tgt.add(this.#drop(t2));
  }
}

/**
 * `MemoryAttention`: conditions the current frame's features on the memory bank through
 * `num_layers` layers and a final LayerNorm. Inputs are sequence-first [N, B, C] as SAM2Base
 * passes them; `0.1 * pos` is added to the input when `pos_enc_at_input`.
 */
export class MemoryAttention extends Module {
  readonly layers: ModuleList<MemoryAttentionLayer>;
  readonly norm: LayerNorm;
  constructor(readonly config: MemoryAttentionConfig) {
    super();
    this.layers = this.module(
      "layers",
      new ModuleList(
        Array.from({ length: config.num_layers }, () => new MemoryAttentionLayer(config.layer)),
      ),
    );
    this.norm = this.module("norm", new LayerNorm(config.d_model));
  }

  /**
   * curr, currPos [N, B, C]; memory, memoryPos [M, B, Cm]; the last `numObjPtrTokens` memory
   * tokens are object pointers (no RoPE). Returns [N, B, C].
   */
  forward(
    curr: Tensor,
    memory: Tensor,
    currPos: Tensor,
    memoryPos: Tensor,
    numObjPtrTokens = 0,
  ): Tensor {
    if (curr.shape[1] !== memory.shape[1]) {
      throw new RangeError("MemoryAttention: batch size must be the same for curr and memory");
    }
    let out = this.config.pos_enc_at_input ? curr.add(currPos.mul(0.1)) : curr;
    const bf = this.config.batch_first;
    const t = (x: Tensor) => (bf ? x.transpose(0, 1) : x);
    out = t(out);
    const qp = t(currPos), mem = t(memory), mp = t(memoryPos);
    for (const layer of this.layers) out = layer.forward(out, mem, mp, qp, numObjPtrTokens);
    return t(this.norm.forward(out));
  }
}
