import { Activation } from "../../nn/activation.ts";
import { Conv2d } from "../../nn/conv2d.ts";
import { ConvTranspose2d } from "../../nn/conv_transpose2d.ts";
import { ModuleList, Sequential } from "../../nn/containers.ts";
import { Embedding } from "../../nn/embedding.ts";
import { LayerNorm2d } from "../../nn/layer_norm2d.ts";
import { Linear } from "../../nn/linear.ts";
import { MLP } from "../../nn/mlp.ts";
import { Module } from "../../nn/module.ts";
import { cat, full, slice, stack, type Tensor } from "../../tensor/mod.ts";
import type { TwoWayTransformer } from "./two_way_transformer.ts";

/** Options of `MaskDecoder` (the reference's constructor arguments). */
export interface MaskDecoderOptions {
  transformerDim: number;
  /** @default 3 */
  numMultimaskOutputs?: number;
  /** @default 3 */
  iouHeadDepth?: number;
  /** @default 256 */
  iouHeadHiddenDim?: number;
  /** @default false */
  useHighResFeatures?: boolean;
  /** @default false */
  iouPredictionUseSigmoid?: boolean;
  /** @default false */
  predObjScores?: boolean;
  /** @default false */
  predObjScoresMlp?: boolean;
  /** @default false */
  useMultimaskTokenForObjPtr?: boolean;
  /** Eval only: fall back to the best multimask output when token 0 is unstable. @default false */
  dynamicMultimaskViaStability?: boolean;
  /** @default 0.05 */
  dynamicMultimaskStabilityDelta?: number;
  /** @default 0.98 */
  dynamicMultimaskStabilityThresh?: number;
}

/** What `MaskDecoder.forward` returns. */
export interface MaskDecoderOutput {
  /** [B, M, 4H, 4W] mask logits (M = 3 with multimask output, else 1). */
  masks: Tensor;
  /** [B, M] predicted IoUs. */
  iouPred: Tensor;
  /** [B, M', C] the output token(s) the object pointer is taken from. */
  samTokensOut: Tensor;
  /** [B, 1] object score logits (10 when the head is absent). */
  objectScoreLogits: Tensor;
}

/**
 * SAM's `MaskDecoder` (sam2/modeling/sam/mask_decoder.py): output tokens (object score, IoU,
 * 4 mask tokens) + prompt tokens attend to the image through the two-way transformer; the image
 * is upscaled 4x (adding the high-resolution features `conv_s0/conv_s1` produced), and each mask
 * token's hypernetwork MLP gives the weights of its mask.
 */
export class MaskDecoder extends Module {
  readonly transformer: TwoWayTransformer;
  readonly iou_token: Embedding;
  readonly mask_tokens: Embedding;
  readonly obj_score_token: Embedding | null;
  readonly output_upscaling: Sequential;
  readonly conv_s0: Conv2d | null;
  readonly conv_s1: Conv2d | null;
  readonly output_hypernetworks_mlps: ModuleList<MLP>;
  readonly iou_prediction_head: MLP;
  readonly pred_obj_score_head: Linear | MLP | null;
  readonly numMaskTokens: number;
  readonly o: Required<MaskDecoderOptions>;
  constructor(transformer: TwoWayTransformer, opts: MaskDecoderOptions) {
    super();
    const o = this.o = {
      numMultimaskOutputs: 3,
      iouHeadDepth: 3,
      iouHeadHiddenDim: 256,
      useHighResFeatures: false,
      iouPredictionUseSigmoid: false,
      predObjScores: false,
      predObjScoresMlp: false,
      useMultimaskTokenForObjPtr: false,
      dynamicMultimaskViaStability: false,
      dynamicMultimaskStabilityDelta: 0.05,
      dynamicMultimaskStabilityThresh: 0.98,
      ...opts,
    };
    const d = o.transformerDim;
    this.numMaskTokens = o.numMultimaskOutputs + 1;
    this.transformer = this.module("transformer", transformer);
    this.iou_token = this.module("iou_token", new Embedding(1, d));
    this.mask_tokens = this.module("mask_tokens", new Embedding(this.numMaskTokens, d));
    this.obj_score_token = this.module(
      "obj_score_token",
      o.predObjScores ? new Embedding(1, d) : null,
    );
    this.output_upscaling = this.module(
      "output_upscaling",
      new Sequential([
        new ConvTranspose2d(d, d / 4, 2, { stride: 2 }),
        new LayerNorm2d(d / 4),
        new Activation("gelu"),
        new ConvTranspose2d(d / 4, d / 8, 2, { stride: 2 }),
        new Activation("gelu"),
      ]),
    );
    this.conv_s0 = this.module("conv_s0", o.useHighResFeatures ? new Conv2d(d, d / 8, 1) : null);
    this.conv_s1 = this.module("conv_s1", o.useHighResFeatures ? new Conv2d(d, d / 4, 1) : null);
    this.output_hypernetworks_mlps = this.module(
      "output_hypernetworks_mlps",
      new ModuleList(Array.from({ length: this.numMaskTokens }, () => new MLP(d, d, d / 8, 3))),
    );
    this.iou_prediction_head = this.module(
      "iou_prediction_head",
      new MLP(d, o.iouHeadHiddenDim, this.numMaskTokens, o.iouHeadDepth, {
        sigmoidOutput: o.iouPredictionUseSigmoid,
      }),
    );
    this.pred_obj_score_head = this.module(
      "pred_obj_score_head",
      o.predObjScores ? (o.predObjScoresMlp ? new MLP(d, d, 1, 3) : new Linear(d, 1)) : null,
    );
  }

  forward(args: {
    imageEmbeddings: Tensor;
    imagePe: Tensor;
    sparsePromptEmbeddings: Tensor;
    densePromptEmbeddings: Tensor;
    multimaskOutput: boolean;
    repeatImage: boolean;
    highResFeatures?: [Tensor, Tensor] | null;
  }): MaskDecoderOutput {
    const all = this.predictMasks(args);
    let masks: Tensor, iouPred: Tensor;
    if (args.multimaskOutput) {
      masks = slice(all.masks, 1, 1);
      iouPred = slice(all.iouPred, 1, 1);
    } else if (this.o.dynamicMultimaskViaStability && !this.training) {
      throw new Error(
        "MaskDecoder: dynamic_multimask_via_stability (an inference option) is not supported yet",
      );
    } else {
      masks = slice(all.masks, 1, 0, 1);
      iouPred = slice(all.iouPred, 1, 0, 1);
    }
    const samTokensOut = args.multimaskOutput && this.o.useMultimaskTokenForObjPtr
      ? slice(all.maskTokensOut, 1, 1)
      : slice(all.maskTokensOut, 1, 0, 1);
    return { masks, iouPred, samTokensOut, objectScoreLogits: all.objectScoreLogits };
  }

  /** All mask tokens' outputs, before the multimask selection. */
  predictMasks(args: {
    imageEmbeddings: Tensor;
    imagePe: Tensor;
    sparsePromptEmbeddings: Tensor;
    densePromptEmbeddings: Tensor;
    repeatImage: boolean;
    highResFeatures?: [Tensor, Tensor] | null;
  }): { masks: Tensor; iouPred: Tensor; maskTokensOut: Tensor; objectScoreLogits: Tensor } {
    const sparse = args.sparsePromptEmbeddings;
    const b = sparse.shape[0], d = this.o.transformerDim;
    const s = this.obj_score_token ? 1 : 0;
    const outTokens = cat(
      this.obj_score_token
        ? [this.obj_score_token.weight, this.iou_token.weight, this.mask_tokens.weight]
        : [this.iou_token.weight, this.mask_tokens.weight],
      0,
    );
    const tokens = cat([outTokens.unsqueeze(0).expand([b, outTokens.shape[0], d]), sparse], 1);
    let src = args.imageEmbeddings;
    if (args.repeatImage) src = repeatInterleave0(src, b);
    else if (src.shape[0] !== b) {
      throw new RangeError(`MaskDecoder: ${src.shape[0]} image embeddings for ${b} prompts`);
    }
    src = src.add(args.densePromptEmbeddings);
    if (args.imagePe.shape[0] !== 1) {
      throw new RangeError("MaskDecoder: image_pe must have batch 1");
    }
    const posSrc = args.imagePe.expand([b, ...args.imagePe.shape.slice(1)]);
    const [, c, h, w] = src.shape;
    const [hs, keys] = this.transformer.forward(src, posSrc, tokens);
    const iouTokenOut = slice(hs, 1, s, s + 1).reshape([b, d]);
    const maskTokensOut = slice(hs, 1, s + 1, s + 1 + this.numMaskTokens);
    const img = keys.transpose(1, 2).reshape([b, c, h, w]);
    const [dc1, ln1, act1, dc2, act2] = [...this.output_upscaling];
    let up: Tensor;
    if (!this.o.useHighResFeatures) up = this.output_upscaling.forward(img);
    else {
      const hr = args.highResFeatures;
      if (!hr) throw new RangeError("MaskDecoder: high-resolution features are required");
      const [s0, s1] = hr;
      up = act1.forward(ln1.forward(dc1.forward(img).add(s1)));
      up = act2.forward(dc2.forward(up).add(s0));
    }
    const hyper = stack(
      [...this.output_hypernetworks_mlps].map((mlp, i) =>
        mlp.forward(slice(maskTokensOut, 1, i, i + 1).reshape([b, d]))
      ),
      1,
    );
    const [, uc, uh, uw] = up.shape;
    const masks = hyper.matmul(up.reshape([b, uc, uh * uw])).reshape([b, -1, uh, uw]);
    const iouPred = this.iou_prediction_head.forward(iouTokenOut);
    const objectScoreLogits = this.pred_obj_score_head
      ? this.pred_obj_score_head.forward(slice(hs, 1, 0, 1).reshape([b, d]))
      : full([b, 1], 10);
    return { masks, iouPred, maskTokensOut, objectScoreLogits };
  }
}

/** `torch.repeat_interleave(x, n, dim=0)`. */
function repeatInterleave0(x: Tensor, n: number): Tensor {
  const [b, ...rest] = x.shape;
  return x.unsqueeze(1).expand([b, n, ...rest]).reshape([b * n, ...rest]);
}
