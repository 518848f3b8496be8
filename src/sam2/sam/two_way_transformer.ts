import { Attention } from "../../nn/attention.ts";
import { ModuleList } from "../../nn/containers.ts";
import { LayerNorm } from "../../nn/layer_norm.ts";
import { MLP } from "../../nn/mlp.ts";
import { Module } from "../../nn/module.ts";
import type { Tensor } from "../../tensor/mod.ts";

/**
 * One `TwoWayAttentionBlock`: token self-attention, tokens→image cross-attention, token MLP,
 * image→tokens cross-attention, each followed by a LayerNorm (eps 1e-5). The first block skips
 * the query PE in its self-attention and does not add a residual there.
 */
export class TwoWayAttentionBlock extends Module {
  readonly self_attn: Attention;
  readonly norm1: LayerNorm;
  readonly cross_attn_token_to_image: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: MLP;
  readonly norm3: LayerNorm;
  readonly norm4: LayerNorm;
  readonly cross_attn_image_to_token: Attention;
  constructor(
    dim: number,
    numHeads: number,
    mlpDim: number,
    downsampleRate: number,
    readonly skipFirstLayerPe: boolean,
  ) {
    super();
    this.self_attn = this.module("self_attn", new Attention(dim, numHeads));
    this.norm1 = this.module("norm1", new LayerNorm(dim));
    this.cross_attn_token_to_image = this.module(
      "cross_attn_token_to_image",
      new Attention(dim, numHeads, { downsampleRate }),
    );
    this.norm2 = this.module("norm2", new LayerNorm(dim));
    this.mlp = this.module("mlp", new MLP(dim, mlpDim, dim, 2, { activation: "relu" }));
    this.norm3 = this.module("norm3", new LayerNorm(dim));
    this.norm4 = this.module("norm4", new LayerNorm(dim));
    this.cross_attn_image_to_token = this.module(
      "cross_attn_image_to_token",
      new Attention(dim, numHeads, { downsampleRate }),
    );
  }

  forward(queries: Tensor, keys: Tensor, queryPe: Tensor, keyPe: Tensor): [Tensor, Tensor] {
    if (this.skipFirstLayerPe) {
      queries = this.self_attn.forward(queries, queries, queries);
    } else {
      const q = queries.add(queryPe);
      queries = queries.add(this.self_attn.forward(q, q, queries));
    }
    queries = this.norm1.forward(queries);
    let q = queries.add(queryPe), k = keys.add(keyPe);
    queries = this.norm2.forward(queries.add(this.cross_attn_token_to_image.forward(q, k, keys)));
    queries = this.norm3.forward(queries.add(this.mlp.forward(queries)));
    q = queries.add(queryPe);
    k = keys.add(keyPe);
    keys = this.norm4.forward(keys.add(this.cross_attn_image_to_token.forward(k, q, queries)));
    return [queries, keys];
  }
}

/** SAM's `TwoWayTransformer`: `depth` two-way blocks, then a final token→image attention. */
export class TwoWayTransformer extends Module {
  readonly layers: ModuleList<TwoWayAttentionBlock>;
  readonly final_attn_token_to_image: Attention;
  readonly norm_final_attn: LayerNorm;
  constructor(
    readonly depth: number,
    readonly embeddingDim: number,
    readonly numHeads: number,
    readonly mlpDim: number,
    downsampleRate = 2,
  ) {
    super();
    const blocks = Array.from(
      { length: depth },
      (_, i) => new TwoWayAttentionBlock(embeddingDim, numHeads, mlpDim, downsampleRate, i === 0),
    );
    this.layers = this.module("layers", new ModuleList(blocks));
    this.final_attn_token_to_image = this.module(
      "final_attn_token_to_image",
      new Attention(embeddingDim, numHeads, { downsampleRate }),
    );
    this.norm_final_attn = this.module("norm_final_attn", new LayerNorm(embeddingDim));
  }

  /** image [B, C, H, W], imagePe [B, C, H, W], points [B, N, C] -> (queries, keys [B, HW, C]). */
  forward(image: Tensor, imagePe: Tensor, points: Tensor): [Tensor, Tensor] {
    const keyPe = imagePe.flatten(2).permute([0, 2, 1]);
    let keys = image.flatten(2).permute([0, 2, 1]);
    let queries = points;
    for (const layer of this.layers) [queries, keys] = layer.forward(queries, keys, points, keyPe);
    const attn = this.final_attn_token_to_image.forward(queries.add(points), keys.add(keyPe), keys);
    return [this.norm_final_attn.forward(queries.add(attn)), keys];
  }
}
