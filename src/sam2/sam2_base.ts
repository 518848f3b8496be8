import { Conv2d } from "../nn/conv2d.ts";
import { Linear } from "../nn/linear.ts";
import { MLP } from "../nn/mlp.ts";
import { Module } from "../nn/module.ts";
import { normalInit } from "../nn/init.ts";
import {
  argmax,
  cat,
  full,
  gather,
  gt,
  interpolate,
  slice,
  stack,
  sum,
  type Tensor,
  tensor,
  where,
  zeros,
} from "../tensor/mod.ts";
import { ImageEncoder, type ImageEncoderOutput } from "./backbone/mod.ts";
import type { SAM2BaseConfig } from "./config/mod.ts";
import { MemoryAttention } from "./memory/memory_attention.ts";
import { MemoryEncoder } from "./memory/memory_encoder.ts";
import { sine1dTable } from "./position_encoding.ts";
import { MaskDecoder } from "./sam/mask_decoder.ts";
import { type PointPrompt, PromptEncoder } from "./sam/prompt_encoder.ts";
import { TwoWayTransformer } from "./sam/two_way_transformer.ts";

/**
 * `trunc_normal_(std=0.02)` truncates at ±2 absolute, i.e. at 100 standard deviations: the same
 * distribution as a plain normal draw.
 */
function truncNormalInit(shape: readonly number[], std: number): Tensor {
  return normalInit(shape, std);
}

/** Mask logit used where the object is predicted absent (the reference's NO_OBJ_SCORE). */
export const NO_OBJ_SCORE = -1024;

/** The seven outputs of `_forward_sam_heads` / `_use_mask_as_output`. */
export interface SamHeadsOutput {
  lowResMultimasks: Tensor;
  highResMultimasks: Tensor;
  ious: Tensor;
  lowResMasks: Tensor;
  highResMasks: Tensor;
  objPtr: Tensor;
  objectScoreLogits: Tensor;
}

/** One frame's tracking state (the reference's `current_out` dict). */
export interface FrameOutput {
  pointInputs: PointPrompt | null;
  maskInputs: Tensor | null;
  /** [B, 1, H/4, W/4] best low-resolution mask logits. */
  predMasks: Tensor;
  /** [B, 1, H, W] best full-resolution mask logits. */
  predMasksHighRes: Tensor;
  /** [B, hidden] object pointer. */
  objPtr: Tensor;
  objectScoreLogits: Tensor;
  maskmemFeatures: Tensor | null;
  maskmemPosEnc: Tensor[] | null;
  /** Training: every prediction step of this frame (SAM2Train). */
  multistep?: SamHeadsOutput[];
}

/**
 * A frame's output from its SAM heads' best prediction, before its memory is encoded (the
 * reference's `current_out` right after `_track_step`).
 */
export function frameOutputOf(
  heads: SamHeadsOutput,
  pointInputs: PointPrompt | null,
  maskInputs: Tensor | null,
): FrameOutput {
  return {
    pointInputs,
    maskInputs,
    predMasks: heads.lowResMasks,
    predMasksHighRes: heads.highResMasks,
    objPtr: heads.objPtr,
    objectScoreLogits: heads.objectScoreLogits,
    maskmemFeatures: null,
    maskmemPosEnc: null,
  };
}

/** What `_track_step` takes for one frame. */
export interface TrackStepArgs {
  frameIdx: number;
  isInitCondFrame: boolean;
  features: BackboneFeatures;
  pointInputs: PointPrompt | null;
  maskInputs: Tensor | null;
  outputDict: OutputDict;
  numFrames: number;
  trackInReverse?: boolean;
  /** Correction steps: the previous prediction's low-res logits, used as the mask prompt. */
  prevSamMaskLogits?: Tensor | null;
}

/** Conditioning and non-conditioning frame outputs, in insertion order. */
export interface OutputDict {
  condFrameOutputs: Map<number, FrameOutput>;
  nonCondFrameOutputs: Map<number, FrameOutput>;
}

/** Backbone features flattened sequence-first, as `_prepare_backbone_features` returns them. */
export interface BackboneFeatures {
  /** Per level [HW, B, C], highest resolution first. */
  visionFeats: Tensor[];
  visionPosEmbeds: Tensor[];
  featSizes: [number, number][];
}

/**
 * Picks up to `maxCondFrameNum` conditioning frames closest to `frameIdx`: the closest before,
 * the closest at-or-after, then the nearest others (`select_closest_cond_frames`).
 */
export function selectClosestCondFrames<T>(
  frameIdx: number,
  cond: Map<number, T>,
  maxCondFrameNum: number,
): { selected: Map<number, T>; unselected: Map<number, T> } {
  if (maxCondFrameNum === -1 || cond.size <= maxCondFrameNum) {
    return { selected: cond, unselected: new Map() };
  }
  if (maxCondFrameNum < 2) throw new RangeError("max_cond_frames_in_attn must be >= 2 or -1");
  const keys = [...cond.keys()];
  const selected = new Map<number, T>();
  const before = keys.filter((t) => t < frameIdx);
  if (before.length) selected.set(Math.max(...before), cond.get(Math.max(...before))!);
  const after = keys.filter((t) => t >= frameIdx);
  if (after.length) selected.set(Math.min(...after), cond.get(Math.min(...after))!);
  const remain = keys.filter((t) => !selected.has(t))
    .map((t, i) => ({ t, i }))
    .sort((a, b) => Math.abs(a.t - frameIdx) - Math.abs(b.t - frameIdx) || a.i - b.i)
    .slice(0, maxCondFrameNum - selected.size);
  for (const { t } of remain) selected.set(t, cond.get(t)!);
  const unselected = new Map([...cond].filter(([t]) => !selected.has(t)));
  return { selected, unselected };
}

/** [B, C, H, W] -> [HW, B, C]. */
function seqFirst(x: Tensor): Tensor {
  return x.flatten(2).permute([2, 0, 1]);
}

/** [HW, B, C] -> [B, C, H, W]. */
function channelsFirst(x: Tensor, [h, w]: readonly [number, number]): Tensor {
  return x.permute([1, 2, 0]).reshape([x.shape[1], x.shape[2], h, w]);
}

/** Picks, per batch row, entry `idx[b]` along axis 1 of x [B, M, ...] -> [B, 1, ...]. */
function pickAlong1(x: Tensor, idx: Tensor): Tensor {
  const shape = [x.shape[0], 1, ...x.shape.slice(2)];
  const index = idx.reshape([x.shape[0], ...Array(x.rank - 1).fill(1)]).expand(shape).contiguous();
  return gather(x, 1, index);
}

/**
 * `SAM2Base` (sam2/modeling/sam2_base.py): the SAM 2 model and its tracking step. Module and
 * parameter names are the reference's, so `stateDict()` keys equal PyTorch's.
 */
export class SAM2Base extends Module {
  readonly image_encoder: ImageEncoder;
  readonly mask_downsample: Conv2d | null;
  readonly memory_attention: MemoryAttention;
  readonly memory_encoder: MemoryEncoder;
  readonly maskmem_tpos_enc: Tensor;
  readonly no_mem_embed: Tensor;
  readonly no_mem_pos_enc: Tensor;
  readonly no_obj_ptr: Tensor | null;
  readonly no_obj_embed_spatial: Tensor | null;
  readonly sam_prompt_encoder: PromptEncoder;
  readonly sam_mask_decoder: MaskDecoder;
  readonly obj_ptr_proj: Linear | MLP | null;
  readonly obj_ptr_tpos_proj: Linear | null;
  readonly hiddenDim: number;
  readonly memDim: number;
  readonly numFeatureLevels: number;
  readonly samImageEmbeddingSize: number;

  constructor(readonly config: SAM2BaseConfig) {
    super();
    const c = config;
    this.image_encoder = this.module("image_encoder", new ImageEncoder(c.image_encoder));
    this.numFeatureLevels = c.use_high_res_features_in_sam ? 3 : 1;
    this.mask_downsample = this.module(
      "mask_downsample",
      c.use_obj_ptrs_in_encoder ? new Conv2d(1, 1, 4, { stride: 4 }) : null,
    );
    if (c.proj_tpos_enc_in_obj_ptrs && !c.add_tpos_enc_to_obj_ptrs) {
      throw new RangeError("proj_tpos_enc_in_obj_ptrs needs add_tpos_enc_to_obj_ptrs");
    }
    this.memory_attention = this.module(
      "memory_attention",
      new MemoryAttention(c.memory_attention),
    );
    this.hiddenDim = c.image_encoder.neck.d_model;
    this.memory_encoder = this.module("memory_encoder", new MemoryEncoder(c.memory_encoder));
    this.memDim = this.memory_encoder.out_proj ? c.memory_encoder.out_dim : this.hiddenDim;
    const h = this.hiddenDim, m = this.memDim;
    this.maskmem_tpos_enc = this.param(
      "maskmem_tpos_enc",
      truncNormalInit([c.num_maskmem, 1, 1, m], 0.02),
    );
    this.no_mem_embed = this.param("no_mem_embed", truncNormalInit([1, 1, h], 0.02));
    this.no_mem_pos_enc = this.param("no_mem_pos_enc", truncNormalInit([1, 1, h], 0.02));
    if (c.fixed_no_obj_ptr && !(c.pred_obj_scores && c.use_obj_ptrs_in_encoder)) {
      throw new RangeError("fixed_no_obj_ptr needs pred_obj_scores and use_obj_ptrs_in_encoder");
    }
    this.no_obj_ptr = this.param(
      "no_obj_ptr",
      c.pred_obj_scores && c.use_obj_ptrs_in_encoder ? truncNormalInit([1, h], 0.02) : null,
    );
    this.no_obj_embed_spatial = this.param(
      "no_obj_embed_spatial",
      c.no_obj_embed_spatial ? truncNormalInit([1, m], 0.02) : null,
    );
    this.samImageEmbeddingSize = Math.floor(c.image_size / c.backbone_stride);
    const e = this.samImageEmbeddingSize;
    this.sam_prompt_encoder = this.module(
      "sam_prompt_encoder",
      new PromptEncoder({
        embedDim: h,
        imageEmbeddingSize: [e, e],
        inputImageSize: [c.image_size, c.image_size],
        maskInChans: 16,
      }),
    );
    const extra = (c.sam_mask_decoder_extra_args ?? {}) as Record<string, number | boolean>;
    this.sam_mask_decoder = this.module(
      "sam_mask_decoder",
      new MaskDecoder(new TwoWayTransformer(2, h, 8, 2048), {
        transformerDim: h,
        useHighResFeatures: c.use_high_res_features_in_sam,
        iouPredictionUseSigmoid: c.iou_prediction_use_sigmoid,
        predObjScores: c.pred_obj_scores,
        predObjScoresMlp: c.pred_obj_scores_mlp,
        useMultimaskTokenForObjPtr: c.use_multimask_token_for_obj_ptr,
        dynamicMultimaskViaStability: extra.dynamic_multimask_via_stability as boolean | undefined,
        dynamicMultimaskStabilityDelta: extra.dynamic_multimask_stability_delta as
          | number
          | undefined,
        dynamicMultimaskStabilityThresh: extra.dynamic_multimask_stability_thresh as
          | number
          | undefined,
      }),
    );
    this.obj_ptr_proj = this.module(
      "obj_ptr_proj",
      c.use_obj_ptrs_in_encoder
        ? (c.use_mlp_for_obj_ptr_proj ? new MLP(h, h, h, 3) : new Linear(h, h))
        : null,
    );
    this.obj_ptr_tpos_proj = this.module(
      "obj_ptr_tpos_proj",
      c.proj_tpos_enc_in_obj_ptrs ? new Linear(h, m) : null,
    );
  }

  /** Image features of a batch; levels 0 and 1 go through `conv_s0`/`conv_s1` when used. */
  forwardImage(imgBatch: Tensor): ImageEncoderOutput {
    const out = this.image_encoder.forward(imgBatch);
    const dec = this.sam_mask_decoder;
    if (this.config.use_high_res_features_in_sam && dec.conv_s0 && dec.conv_s1) {
      const fpn = [...out.backbone_fpn];
      fpn[0] = dec.conv_s0.forward(fpn[0]);
      fpn[1] = dec.conv_s1.forward(fpn[1]);
      return { ...out, backbone_fpn: fpn };
    }
    return out;
  }

  /** The last `numFeatureLevels` levels, flattened sequence-first. */
  prepareBackboneFeatures(out: ImageEncoderOutput): BackboneFeatures {
    const n = this.numFeatureLevels;
    const maps = out.backbone_fpn.slice(-n), pos = out.vision_pos_enc.slice(-n);
    return {
      visionFeats: maps.map(seqFirst),
      visionPosEmbeds: pos.map(seqFirst),
      featSizes: pos.map((p) => [p.shape[2], p.shape[3]] as [number, number]),
    };
  }

  /** `_forward_sam_heads`: prompt encoder + mask decoder + object gating + pointer. */
  forwardSamHeads(
    backboneFeatures: Tensor,
    opts: {
      pointInputs?: PointPrompt | null;
      maskInputs?: Tensor | null;
      highResFeatures?: [Tensor, Tensor] | null;
      multimaskOutput?: boolean;
    } = {},
  ): SamHeadsOutput {
    const b = backboneFeatures.shape[0];
    const e = this.samImageEmbeddingSize;
    if (
      backboneFeatures.shape[1] !== this.hiddenDim || backboneFeatures.shape[2] !== e ||
      backboneFeatures.shape[3] !== e
    ) {
      throw new RangeError(`SAM heads: backbone features [${backboneFeatures.shape}] do not fit`);
    }
    const points = opts.pointInputs ??
      { coords: zeros([b, 1, 2]), labels: new Int32Array(b).fill(-1) };
    let maskPrompt: Tensor | null = null;
    if (opts.maskInputs) {
      const [mh, mw] = this.sam_prompt_encoder.maskInputSize;
      const mi = opts.maskInputs;
      maskPrompt = mi.shape[2] === mh && mi.shape[3] === mw ? mi : interpolate(mi, {
        size: [mh, mw],
        mode: "bilinear",
        alignCorners: false,
        antialias: true,
      });
    }
    const { sparse, dense } = this.sam_prompt_encoder.forward(points, maskPrompt, b);
    const multimask = opts.multimaskOutput ?? false;
    const dec = this.sam_mask_decoder.forward({
      imageEmbeddings: backboneFeatures,
      imagePe: this.sam_prompt_encoder.getDensePe(),
      sparsePromptEmbeddings: sparse,
      densePromptEmbeddings: dense,
      multimaskOutput: multimask,
      repeatImage: false,
      highResFeatures: opts.highResFeatures,
    });
    let lowResMultimasks = dec.masks;
    const objectScoreLogits = dec.objectScoreLogits;
    let isObj: Tensor | null = null;
    if (this.config.pred_obj_scores) {
      isObj = gt(objectScoreLogits, 0);
      lowResMultimasks = where(isObj.reshape([b, 1, 1, 1]), lowResMultimasks, NO_OBJ_SCORE);
    }
    const s = this.config.image_size;
    const highResMultimasks = interpolate(lowResMultimasks, {
      size: [s, s],
      mode: "bilinear",
      alignCorners: false,
    });
    let token = slice(dec.samTokensOut, 1, 0, 1).reshape([b, this.hiddenDim]);
    let lowResMasks = lowResMultimasks, highResMasks = highResMultimasks;
    if (multimask) {
      const best = argmax(dec.iouPred, -1);
      lowResMasks = pickAlong1(lowResMultimasks, best);
      highResMasks = pickAlong1(highResMultimasks, best);
      if (dec.samTokensOut.shape[1] > 1) {
        token = pickAlong1(dec.samTokensOut, best).reshape([b, this.hiddenDim]);
      }
    }
    let objPtr = this.obj_ptr_proj ? this.obj_ptr_proj.forward(token) : token;
    if (isObj && this.no_obj_ptr) {
      const lambda = this.config.soft_no_obj_ptr ? objectScoreLogits.sigmoid() : isObj;
      if (this.config.fixed_no_obj_ptr) objPtr = objPtr.mul(lambda);
      objPtr = objPtr.add(lambda.neg().add(1).mul(this.no_obj_ptr));
    }
    return {
      lowResMultimasks,
      highResMultimasks,
      ious: dec.iouPred,
      lowResMasks,
      highResMasks,
      objPtr,
      objectScoreLogits,
    };
  }

  /**
   * `_use_mask_as_output`: a binary mask input becomes the prediction (logits ±10, low-res by
   * antialiased downsampling); the pointer still comes from the SAM heads on the raw features.
   */
  useMaskAsOutput(
    backboneFeatures: Tensor,
    highResFeatures: [Tensor, Tensor] | null,
    maskInputs: Tensor,
  ): SamHeadsOutput {
    const b = maskInputs.shape[0];
    const highResMasks = maskInputs.mul(20).add(-10);
    const lowResMasks = interpolate(highResMasks, {
      size: [Math.floor(maskInputs.shape[2] / 4), Math.floor(maskInputs.shape[3] / 4)],
      mode: "bilinear",
      alignCorners: false,
      antialias: true,
    });
    const ious = full([b, 1], 1);
    let objPtr: Tensor;
    if (!this.config.use_obj_ptrs_in_encoder || !this.mask_downsample) {
      objPtr = zeros([b, this.hiddenDim]);
    } else {
      objPtr = this.forwardSamHeads(backboneFeatures, {
        maskInputs: this.mask_downsample.forward(maskInputs),
        highResFeatures,
      }).objPtr;
    }
    const lambda = gt(sum(gt(maskInputs.flatten(1), 0), 1, { keepdim: true }), 0);
    const objectScoreLogits = lambda.mul(20).add(-10);
    if (this.config.pred_obj_scores && this.no_obj_ptr) {
      if (this.config.fixed_no_obj_ptr) objPtr = objPtr.mul(lambda);
      objPtr = objPtr.add(lambda.neg().add(1).mul(this.no_obj_ptr));
    }
    return {
      lowResMultimasks: lowResMasks,
      highResMultimasks: highResMasks,
      ious,
      lowResMasks,
      highResMasks,
      objPtr,
      objectScoreLogits,
    };
  }

  /** `_prepare_memory_conditioned_features`: the current frame attends to its memories. */
  prepareMemoryConditionedFeatures(args: {
    frameIdx: number;
    isInitCondFrame: boolean;
    visionFeat: Tensor;
    visionPos: Tensor;
    featSize: readonly [number, number];
    outputDict: OutputDict;
    numFrames: number;
    trackInReverse?: boolean;
  }): Tensor {
    const c = this.config;
    const { frameIdx, visionFeat, visionPos, featSize, outputDict, numFrames } = args;
    const reverse = args.trackInReverse ?? false;
    const b = visionFeat.shape[1], hd = this.hiddenDim, md = this.memDim;
    if (c.num_maskmem === 0) return channelsFirst(visionFeat, featSize);
    if (args.isInitCondFrame) {
      if (c.directly_add_no_mem_embed) {
        return channelsFirst(visionFeat.add(this.no_mem_embed), featSize);
      }
      const mem = this.no_mem_embed.expand([1, b, md]);
      const memPos = this.no_mem_pos_enc.expand([1, b, md]);
      return channelsFirst(
        this.memory_attention.forward(visionFeat, mem, visionPos, memPos, 0),
        featSize,
      );
    }
    const cond = outputDict.condFrameOutputs;
    if (cond.size === 0) throw new Error("Tracking a frame needs at least one conditioning frame");
    const { selected, unselected } = selectClosestCondFrames(
      frameIdx,
      cond,
      c.max_cond_frames_in_attn,
    );
    const tPosAndPrevs: [number, FrameOutput | undefined][] = [...selected.values()].map((
      o,
    ) => [0, o]);
    const stride = this.training ? 1 : c.memory_temporal_stride_for_eval;
    for (let tPos = 1; tPos < c.num_maskmem; tPos++) {
      const tRel = c.num_maskmem - tPos;
      let prev: number;
      if (tRel === 1) prev = reverse ? frameIdx + tRel : frameIdx - tRel;
      else if (!reverse) prev = Math.floor((frameIdx - 2) / stride) * stride - (tRel - 2) * stride;
      else prev = -Math.floor(-(frameIdx + 2) / stride) * stride + (tRel - 2) * stride;
      tPosAndPrevs.push([tPos, outputDict.nonCondFrameOutputs.get(prev) ?? unselected.get(prev)]);
    }
    const memories: Tensor[] = [], memPos: Tensor[] = [];
    for (const [tPos, prev] of tPosAndPrevs) {
      if (!prev || !prev.maskmemFeatures || !prev.maskmemPosEnc) continue;
      memories.push(seqFirst(prev.maskmemFeatures));
      const enc = seqFirst(prev.maskmemPosEnc[prev.maskmemPosEnc.length - 1]);
      const tIdx = c.num_maskmem - tPos - 1;
      memPos.push(enc.add(slice(this.maskmem_tpos_enc, 0, tIdx, tIdx + 1).reshape([1, 1, md])));
    }
    let numObjPtrTokens = 0;
    if (c.use_obj_ptrs_in_encoder) {
      const maxPtrs = Math.min(numFrames, c.max_obj_ptrs_in_encoder);
      const sign = reverse ? -1 : 1;
      const ptrCond = !this.training && c.only_obj_ptrs_in_the_past_for_eval
        ? new Map([...selected].filter(([t]) => reverse ? t >= frameIdx : t <= frameIdx))
        : selected;
      const posAndPtrs: [number, Tensor][] = [...ptrCond].map(([t, o]) => [
        c.use_signed_tpos_enc_to_obj_ptrs ? (frameIdx - t) * sign : Math.abs(frameIdx - t),
        o.objPtr,
      ]);
      for (let tDiff = 1; tDiff < maxPtrs; tDiff++) {
        const t = reverse ? frameIdx + tDiff : frameIdx - tDiff;
        if (t < 0 || t >= numFrames) break;
        const o = outputDict.nonCondFrameOutputs.get(t) ?? unselected.get(t);
        if (o) posAndPtrs.push([tDiff, o.objPtr]);
      }
      if (posAndPtrs.length > 0) {
        let ptrs = stack(posAndPtrs.map(([, p]) => p), 0); // [P, B, hd]
        const n = posAndPtrs.length;
        let objPos: Tensor;
        if (c.add_tpos_enc_to_obj_ptrs) {
          const tDiffMax = maxPtrs - 1;
          const tposDim = c.proj_tpos_enc_in_obj_ptrs ? hd : md;
          const rel = posAndPtrs.map(([p]) => Math.fround(p / tDiffMax));
          objPos = tensor(sine1dTable(rel, tposDim), [n, tposDim]);
          if (this.obj_ptr_tpos_proj) objPos = this.obj_ptr_tpos_proj.forward(objPos);
          objPos = objPos.unsqueeze(1).expand([n, b, md]);
        } else {
          objPos = zeros([n, b, md]);
        }
        if (md < hd) {
          const split = hd / md;
          ptrs = ptrs.reshape([n, b, split, md]).permute([0, 2, 1, 3]).reshape([n * split, b, md]);
          objPos = objPos.unsqueeze(1).expand([n, split, b, md]).reshape([n * split, b, md]);
        }
        memories.push(ptrs);
        memPos.push(objPos);
        numObjPtrTokens = ptrs.shape[0];
      }
    }
    const memory = cat(memories, 0), memoryPos = cat(memPos, 0);
    const out = this.memory_attention.forward(
      visionFeat,
      memory,
      visionPos,
      memoryPos,
      numObjPtrTokens,
    );
    return channelsFirst(out, featSize);
  }

  /** `_encode_new_memory`: memory features of the frame and its predicted mask. */
  encodeNewMemory(args: {
    visionFeat: Tensor;
    featSize: readonly [number, number];
    predMasksHighRes: Tensor;
    objectScoreLogits: Tensor;
    isMaskFromPts: boolean;
  }): { features: Tensor; posEnc: Tensor[] } {
    const c = this.config;
    const pix = channelsFirst(args.visionFeat, args.featSize);
    if (c.non_overlap_masks_for_mem_enc && !this.training) {
      throw new Error("non_overlap_masks_for_mem_enc (an inference option) is not supported yet");
    }
    let mask = c.binarize_mask_from_pts_for_mem_enc && args.isMaskFromPts && !this.training
      ? gt(args.predMasksHighRes, 0)
      : args.predMasksHighRes.sigmoid();
    if (c.sigmoid_scale_for_mem_enc !== 1) mask = mask.mul(c.sigmoid_scale_for_mem_enc);
    if (c.sigmoid_bias_for_mem_enc !== 0) mask = mask.add(c.sigmoid_bias_for_mem_enc);
    const out = this.memory_encoder.forward(pix, mask, true);
    let features = out.vision_features;
    if (this.no_obj_embed_spatial) {
      const absent = gt(args.objectScoreLogits, 0).neg().add(1); // [B, 1]
      const [b, ch] = features.shape;
      features = features.add(
        absent.reshape([b, 1, 1, 1]).mul(this.no_obj_embed_spatial.reshape([1, ch, 1, 1])),
      );
    }
    return { features, posEnc: out.vision_pos_enc };
  }

  /** `_use_multimask`: 3 masks for 0–1 points on initial frames (or when tracking allows it). */
  useMultimask(isInitCondFrame: boolean, pointInputs: PointPrompt | null): boolean {
    const c = this.config;
    const numPts = pointInputs ? pointInputs.coords.shape[1] : 0;
    return c.multimask_output_in_sam && (isInitCondFrame || c.multimask_output_for_tracking) &&
      c.multimask_min_pt_num <= numPts && numPts <= c.multimask_max_pt_num;
  }

  /** High-resolution features of the levels above the last, channels-first. */
  highResFeatures(f: BackboneFeatures): [Tensor, Tensor] | null {
    if (f.visionFeats.length < 3) return null;
    return [
      channelsFirst(f.visionFeats[0], f.featSizes[0]),
      channelsFirst(f.visionFeats[1], f.featSizes[1]),
    ];
  }

  /**
   * `_track_step`: mask input used as output, or memory conditioning + SAM heads (with the
   * previous step's low-res logits as the mask prompt during corrections).
   */
  trackStepHeads(
    args: TrackStepArgs,
  ): { heads: SamHeadsOutput; pixFeat: Tensor; highRes: [Tensor, Tensor] | null } {
    const f = args.features, last = f.visionFeats.length - 1;
    const highRes = this.highResFeatures(f);
    if (args.maskInputs && this.config.use_mask_input_as_output_without_sam) {
      const pixFeat = channelsFirst(f.visionFeats[last], f.featSizes[last]);
      return { heads: this.useMaskAsOutput(pixFeat, highRes, args.maskInputs), pixFeat, highRes };
    }
    const pixFeat = this.prepareMemoryConditionedFeatures({
      frameIdx: args.frameIdx,
      isInitCondFrame: args.isInitCondFrame,
      visionFeat: f.visionFeats[last],
      visionPos: f.visionPosEmbeds[last],
      featSize: f.featSizes[last],
      outputDict: args.outputDict,
      numFrames: args.numFrames,
      trackInReverse: args.trackInReverse,
    });
    let maskInputs = args.maskInputs;
    if (args.prevSamMaskLogits) {
      if (!args.pointInputs || maskInputs) {
        throw new Error("Correction steps take points and the previous logits, not a mask input");
      }
      maskInputs = args.prevSamMaskLogits;
    }
    const heads = this.forwardSamHeads(pixFeat, {
      pointInputs: args.pointInputs,
      maskInputs,
      highResFeatures: highRes,
      multimaskOutput: this.useMultimask(args.isInitCondFrame, args.pointInputs),
    });
    return { heads, pixFeat, highRes };
  }

  /** `track_step`: one frame's prediction and (optionally) its new memory. */
  trackStep(args: TrackStepArgs & { runMemEncoder?: boolean }): FrameOutput {
    const { heads } = this.trackStepHeads(args);
    const out = frameOutputOf(heads, args.pointInputs, args.maskInputs);
    this.encodeMemoryInOutput(args.features, args.pointInputs, args.runMemEncoder ?? true, out);
    return out;
  }

  /** `_encode_memory_in_output`: fills the frame's memory from its best high-res mask. */
  encodeMemoryInOutput(
    f: BackboneFeatures,
    pointInputs: PointPrompt | null,
    run: boolean,
    out: FrameOutput,
  ): void {
    if (!run || this.config.num_maskmem === 0) return;
    const last = f.visionFeats.length - 1;
    const mem = this.encodeNewMemory({
      visionFeat: f.visionFeats[last],
      featSize: f.featSizes[last],
      predMasksHighRes: out.predMasksHighRes,
      objectScoreLogits: out.objectScoreLogits,
      isMaskFromPts: pointInputs !== null,
    });
    out.maskmemFeatures = mem.features;
    out.maskmemPosEnc = mem.posEnc;
  }
}
