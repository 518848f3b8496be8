import { Conv2d } from "../../nn/conv2d.ts";
import { Activation } from "../../nn/activation.ts";
import { ModuleList, Sequential } from "../../nn/containers.ts";
import { Embedding } from "../../nn/embedding.ts";
import { LayerNorm2d } from "../../nn/layer_norm2d.ts";
import { Module } from "../../nn/module.ts";
import { cat, type Tensor, tensor } from "../../tensor/mod.ts";
import { PositionEmbeddingRandom } from "./position_embedding_random.ts";

/** Point prompts: pixel coordinates (x, y) and labels (1 pos, 0 neg, 2/3 box corners, -1 pad). */
export interface PointPrompt {
  /** [B, N, 2] f32 pixel coordinates of the input image. */
  coords: Tensor;
  /** Labels, row-major [B][N], known on the host (they choose embeddings, not values). */
  labels: Int32Array;
}

/** Options of `PromptEncoder` (as `SAM2Base._build_sam_heads` builds it). */
export interface PromptEncoderOptions {
  embedDim: number;
  /** (H, W) of the image embedding. */
  imageEmbeddingSize: readonly [number, number];
  /** (H, W) of the model input. */
  inputImageSize: readonly [number, number];
  maskInChans: number;
}

/**
 * SAM's `PromptEncoder` (sam2/modeling/sam/prompt_encoder.py): sparse embeddings for points and
 * boxes (random-Fourier PE of the pixel centre + a learned embedding per label), dense
 * embeddings from a mask prompt (two stride-2 convs with LayerNorm2d + GELU, then 1x1) or the
 * broadcast `no_mask_embed`.
 */
export class PromptEncoder extends Module {
  readonly pe_layer: PositionEmbeddingRandom;
  readonly point_embeddings: ModuleList<Embedding>;
  readonly not_a_point_embed: Embedding;
  readonly mask_downscaling: Sequential;
  readonly no_mask_embed: Embedding;
  /** (H, W) a mask prompt must have: 4x the embedding. */
  readonly maskInputSize: readonly [number, number];
  constructor(readonly opts: PromptEncoderOptions) {
    super();
    const { embedDim: d, maskInChans: m } = opts;
    this.pe_layer = this.module("pe_layer", new PositionEmbeddingRandom(d / 2));
    this.point_embeddings = this.module(
      "point_embeddings",
      new ModuleList([0, 1, 2, 3].map(() => new Embedding(1, d))),
    );
    this.not_a_point_embed = this.module("not_a_point_embed", new Embedding(1, d));
    this.maskInputSize = [4 * opts.imageEmbeddingSize[0], 4 * opts.imageEmbeddingSize[1]];
    this.mask_downscaling = this.module(
      "mask_downscaling",
      new Sequential([
        new Conv2d(1, m / 4, 2, { stride: 2 }),
        new LayerNorm2d(m / 4),
        new Activation("gelu"),
        new Conv2d(m / 4, m, 2, { stride: 2 }),
        new LayerNorm2d(m),
        new Activation("gelu"),
        new Conv2d(m, d, 1),
      ]),
    );
    this.no_mask_embed = this.module("no_mask_embed", new Embedding(1, d));
  }

  /** The dense PE of the image embedding grid, [1, C, H, W]. */
  getDensePe(): Tensor {
    const [h, w] = this.opts.imageEmbeddingSize;
    return this.pe_layer.grid(h, w).unsqueeze(0);
  }

  #pointWeight(i: number): Tensor {
    return this.point_embeddings.at(i).weight;
  }

  /** Point embeddings [B, N(+1), C]; `pad` appends the padding point (label -1). */
  embedPoints(points: PointPrompt, pad: boolean): Tensor {
    const [b, n] = points.coords.shape;
    let coords = points.coords.add(0.5);
    let labels = points.labels;
    if (pad) {
      coords = cat([coords, tensor(new Float32Array(b * 2), [b, 1, 2])], 1);
      const padded = new Int32Array(b * (n + 1));
      for (let i = 0; i < b; i++) {
        padded.set(labels.subarray(i * n, (i + 1) * n), i * (n + 1));
        padded[i * (n + 1) + n] = -1;
      }
      labels = padded;
    }
    const np = labels.length / b;
    const pe = this.pe_layer.forwardWithCoords(coords, this.opts.inputImageSize);
    // One {0,1} column per label value; adding exact zeros keeps PyTorch's torch.where values.
    const indicator = (pred: (l: number) => boolean) =>
      tensor(Float32Array.from(labels, (l) => pred(l) ? 1 : 0), [b, np, 1]);
    let out = pe.mul(indicator((l) => l !== -1))
      .add(indicator((l) => l === -1).mul(this.not_a_point_embed.weight));
    for (let k = 0; k < 4; k++) {
      if (labels.includes(k)) out = out.add(indicator((l) => l === k).mul(this.#pointWeight(k)));
    }
    return out;
  }

  /**
   * Sparse [B, N, C] and dense [B, C, H, W] embeddings. Boxes are given as points with labels
   * 2 and 3 (as SAM 2 does), so the padding point is always appended.
   */
  forward(
    points: PointPrompt | null,
    masks: Tensor | null,
    batchSize: number,
  ): { sparse: Tensor; dense: Tensor } {
    const d = this.opts.embedDim;
    const sparse = points ? this.embedPoints(points, true) : tensor(new Float32Array(0), [
      batchSize,
      0,
      d,
    ]);
    const [h, w] = this.opts.imageEmbeddingSize;
    const dense = masks
      ? this.mask_downscaling.forward(masks)
      : this.no_mask_embed.weight.reshape([1, d, 1, 1]).expand([batchSize, d, h, w]);
    return { sparse, dense };
  }
}
