/**
 * Schemas of the SAM 2 model classes: every constructor argument with the reference's
 * default (`sam2/modeling/**`, `training/model/sam2.py`, `training/loss_fns.py`), plus the
 * cross-field assertions the reference makes in its constructors.
 */
import type {
  AttentionConfig,
  CXBlockConfig,
  FpnNeckConfig,
  FuserConfig,
  HieraConfig,
  ImageEncoderConfig,
  LossWeights,
  MaskDownSamplerConfig,
  MemoryAttentionConfig,
  MemoryAttentionLayerConfig,
  MemoryEncoderConfig,
  MultiStepMultiMasksAndIousConfig,
  PositionEmbeddingSineConfig,
  RoPEAttentionConfig,
  SAM2BaseConfig,
  SAM2BaseOptions,
  SAM2TrainConfig,
  SAM2TrainOptions,
  SAM2VideoPredictorConfig,
  SAM2VideoPredictorOptions,
  TrainerModelExtra,
} from "./model_types.ts";
import {
  anyValue,
  bool,
  choice,
  defineTarget,
  type Fields,
  float,
  int,
  list,
  nullable,
  obj,
  record,
  section,
  str,
} from "./schema.ts";

/** PositionEmbeddingSine. */
export const positionEmbeddingSineSchema = defineTarget<PositionEmbeddingSineConfig>(
  "sam2.modeling.position_encoding.PositionEmbeddingSine",
  {
    num_pos_feats: int(),
    temperature: float(10000),
    normalize: bool(true),
    scale: nullable(float(), null),
    warmup_cache: bool(true),
    image_size: int(1024),
    strides: list(int(), [4, 8, 16, 32]),
  },
  (v) => {
    if (v.num_pos_feats % 2 !== 0) {
      return {
        key: "num_pos_feats",
        message: `num_pos_feats must be even, got ${v.num_pos_feats}`,
      };
    }
    if (v.scale !== null && !v.normalize) {
      return { key: "scale", message: "normalize must be true when scale is set" };
    }
  },
);

/** The channels per stage of a Hiera trunk, deepest first (its `channel_list`). */
export function hieraChannelList(
  h: Pick<HieraConfig, "embed_dim" | "dim_mul" | "stages">,
): number[] {
  const dims: number[] = [];
  let dim = h.embed_dim;
  for (let i = 0; i < h.stages.length; i++) {
    dims.push(dim);
    dim = Math.trunc(dim * h.dim_mul);
  }
  return dims.reverse();
}

/** Hiera. */
export const hieraSchema = defineTarget<HieraConfig>(
  "sam2.modeling.backbones.hieradet.Hiera",
  {
    embed_dim: int(96),
    num_heads: int(1),
    drop_path_rate: float(0.0),
    q_pool: int(3),
    q_stride: list(int(), [2, 2], { length: 2 }),
    stages: list(int(), [2, 3, 16, 3]),
    dim_mul: float(2.0),
    head_mul: float(2.0),
    window_pos_embed_bkg_spatial_size: list(int(), [14, 14], { length: 2 }),
    window_spec: list(int(), [8, 4, 14, 7]),
    global_att_blocks: list(int(), [12, 16, 20]),
    weights_path: nullable(str(), null),
    return_interm_layers: bool(true),
  },
  (v) => {
    if (v.stages.length !== v.window_spec.length) {
      return {
        key: "window_spec",
        message:
          `window_spec has ${v.window_spec.length} entries but stages has ${v.stages.length}`,
      };
    }
    if (v.q_pool > v.stages.length - 1 || v.q_pool < 0) {
      return { key: "q_pool", message: `q_pool must be in [0, ${v.stages.length - 1}]` };
    }
    const depth = v.stages.reduce((a, b) => a + b, 0);
    const bad = v.global_att_blocks.find((b) => b < 0 || b >= depth);
    if (bad !== undefined) {
      return {
        key: "global_att_blocks",
        message: `global_att_blocks entry ${bad} is outside the ${depth} blocks`,
      };
    }
  },
);

/** FpnNeck. */
export const fpnNeckSchema = defineTarget<FpnNeckConfig>(
  "sam2.modeling.backbones.image_encoder.FpnNeck",
  {
    position_encoding: obj(() => positionEmbeddingSineSchema),
    d_model: int(),
    backbone_channel_list: list(int()),
    kernel_size: int(1),
    stride: int(1),
    padding: int(0),
    fpn_interp_model: choice(
      ["nearest", "nearest-exact", "bilinear", "bicubic", "area"],
      "bilinear",
    ),
    fuse_type: choice(["sum", "avg"], "sum"),
    fpn_top_down_levels: nullable(list(int()), null),
  },
);

/** ImageEncoder. */
export const imageEncoderSchema = defineTarget<ImageEncoderConfig>(
  "sam2.modeling.backbones.image_encoder.ImageEncoder",
  {
    trunk: obj(() => hieraSchema),
    neck: obj(() => fpnNeckSchema),
    scalp: int(0),
  },
  (v) => {
    const trunk = hieraChannelList(v.trunk);
    const neck = v.neck.backbone_channel_list;
    if (trunk.join() !== neck.join()) {
      return {
        key: "neck",
        message: `Channel dims of trunk and neck do not match: trunk [${trunk}], neck.` +
          `backbone_channel_list [${neck}]`,
      };
    }
  },
);

const attentionFields: Fields<Omit<AttentionConfig, "_target_">> = {
  embedding_dim: int(),
  num_heads: int(),
  downsample_rate: int(1),
  dropout: float(0.0),
  kv_in_dim: nullable(int(), null),
};

function checkAttention(v: AttentionConfig | RoPEAttentionConfig) {
  const internal = Math.trunc(v.embedding_dim / v.downsample_rate);
  if (internal % v.num_heads !== 0) {
    return { key: "num_heads", message: "num_heads must divide embedding_dim / downsample_rate" };
  }
}

/** Attention (SAM transformer attention). */
export const attentionSchema = defineTarget<AttentionConfig>(
  "sam2.modeling.sam.transformer.Attention",
  attentionFields,
  checkAttention,
);

/** RoPEAttention. */
export const ropeAttentionSchema = defineTarget<RoPEAttentionConfig>(
  "sam2.modeling.sam.transformer.RoPEAttention",
  {
    ...attentionFields,
    rope_theta: float(10000.0),
    rope_k_repeat: bool(false),
    feat_sizes: list(int(), [64, 64], { length: 2 }),
  },
  checkAttention,
);

/** MemoryAttentionLayer. */
export const memoryAttentionLayerSchema = defineTarget<MemoryAttentionLayerConfig>(
  "sam2.modeling.memory_attention.MemoryAttentionLayer",
  {
    activation: choice(["relu", "gelu", "glu"]),
    cross_attention: obj(() => [ropeAttentionSchema, attentionSchema]),
    d_model: int(),
    dim_feedforward: int(),
    dropout: float(),
    pos_enc_at_attn: bool(),
    pos_enc_at_cross_attn_keys: bool(),
    pos_enc_at_cross_attn_queries: bool(),
    self_attention: obj(() => [ropeAttentionSchema, attentionSchema]),
  },
);

/** MemoryAttention. */
export const memoryAttentionSchema = defineTarget<MemoryAttentionConfig>(
  "sam2.modeling.memory_attention.MemoryAttention",
  {
    d_model: int(),
    pos_enc_at_input: bool(),
    layer: obj(() => memoryAttentionLayerSchema),
    num_layers: int(),
    batch_first: bool(true),
  },
);

/** MaskDownSampler. */
export const maskDownSamplerSchema = defineTarget<MaskDownSamplerConfig>(
  "sam2.modeling.memory_encoder.MaskDownSampler",
  {
    embed_dim: int(256),
    kernel_size: int(4),
    stride: int(4),
    padding: int(0),
    total_stride: int(16),
    activation: str("torch.nn.GELU"),
  },
  (v) => {
    const n = Math.trunc(Math.floor(Math.log2(v.total_stride) / Math.log2(v.stride)));
    if (v.stride ** n !== v.total_stride) {
      return { key: "total_stride", message: "total_stride must be a power of stride" };
    }
  },
);

/** CXBlock. */
export const cxBlockSchema = defineTarget<CXBlockConfig>(
  "sam2.modeling.memory_encoder.CXBlock",
  {
    dim: int(),
    kernel_size: int(7),
    padding: int(3),
    drop_path: float(0.0),
    layer_scale_init_value: float(1e-6),
    use_dwconv: bool(true),
  },
);

/** Fuser. */
export const fuserSchema = defineTarget<FuserConfig>(
  "sam2.modeling.memory_encoder.Fuser",
  {
    layer: obj(() => cxBlockSchema),
    num_layers: int(),
    dim: nullable(int(), null),
    input_projection: bool(false),
  },
  (v) =>
    v.input_projection && v.dim === null
      ? { key: "dim", message: "dim is required when input_projection is true" }
      : undefined,
);

/** MemoryEncoder. */
export const memoryEncoderSchema = defineTarget<MemoryEncoderConfig>(
  "sam2.modeling.memory_encoder.MemoryEncoder",
  {
    out_dim: int(),
    mask_downsampler: obj(() => maskDownSamplerSchema),
    fuser: obj(() => fuserSchema),
    position_encoding: obj(() => positionEmbeddingSineSchema),
    in_dim: int(256),
  },
);

const sam2BaseOptionFields: Fields<SAM2BaseOptions> = {
  num_maskmem: int(7),
  image_size: int(512),
  backbone_stride: int(16),
  sigmoid_scale_for_mem_enc: float(1.0),
  sigmoid_bias_for_mem_enc: float(0.0),
  binarize_mask_from_pts_for_mem_enc: bool(false),
  use_mask_input_as_output_without_sam: bool(false),
  max_cond_frames_in_attn: int(-1),
  directly_add_no_mem_embed: bool(false),
  use_high_res_features_in_sam: bool(false),
  multimask_output_in_sam: bool(false),
  multimask_min_pt_num: int(1),
  multimask_max_pt_num: int(1),
  multimask_output_for_tracking: bool(false),
  use_multimask_token_for_obj_ptr: bool(false),
  iou_prediction_use_sigmoid: bool(false),
  memory_temporal_stride_for_eval: int(1),
  non_overlap_masks_for_mem_enc: bool(false),
  use_obj_ptrs_in_encoder: bool(false),
  max_obj_ptrs_in_encoder: int(16),
  add_tpos_enc_to_obj_ptrs: bool(true),
  proj_tpos_enc_in_obj_ptrs: bool(false),
  use_signed_tpos_enc_to_obj_ptrs: bool(false),
  only_obj_ptrs_in_the_past_for_eval: bool(false),
  pred_obj_scores: bool(false),
  pred_obj_scores_mlp: bool(false),
  fixed_no_obj_ptr: bool(false),
  soft_no_obj_ptr: bool(false),
  use_mlp_for_obj_ptr_proj: bool(false),
  no_obj_embed_spatial: bool(false),
  sam_mask_decoder_extra_args: nullable(record(anyValue()), null),
  compile_image_encoder: bool(false),
};

const subModuleFields = {
  image_encoder: obj<ImageEncoderConfig>(() => imageEncoderSchema),
  memory_attention: obj<MemoryAttentionConfig>(() => memoryAttentionSchema),
  memory_encoder: obj<MemoryEncoderConfig>(() => memoryEncoderSchema),
};

function checkBase(v: SAM2BaseOptions) {
  if (v.proj_tpos_enc_in_obj_ptrs && !v.add_tpos_enc_to_obj_ptrs) {
    return {
      key: "proj_tpos_enc_in_obj_ptrs",
      message: "proj_tpos_enc_in_obj_ptrs needs add_tpos_enc_to_obj_ptrs",
    };
  }
  if (v.fixed_no_obj_ptr && !(v.pred_obj_scores && v.use_obj_ptrs_in_encoder)) {
    return {
      key: "fixed_no_obj_ptr",
      message: "fixed_no_obj_ptr needs pred_obj_scores and use_obj_ptrs_in_encoder",
    };
  }
}

/** SAM2Base. */
export const sam2BaseSchema = defineTarget<SAM2BaseConfig>(
  "sam2.modeling.sam2_base.SAM2Base",
  { ...subModuleFields, ...sam2BaseOptionFields },
  checkBase,
);

const sam2TrainOptionFields: Fields<SAM2TrainOptions> = {
  prob_to_use_pt_input_for_train: float(0.0),
  prob_to_use_pt_input_for_eval: float(0.0),
  prob_to_use_box_input_for_train: float(0.0),
  prob_to_use_box_input_for_eval: float(0.0),
  num_frames_to_correct_for_train: int(1),
  num_frames_to_correct_for_eval: int(1),
  rand_frames_to_correct_for_train: bool(false),
  rand_frames_to_correct_for_eval: bool(false),
  num_init_cond_frames_for_train: int(1),
  num_init_cond_frames_for_eval: int(1),
  rand_init_cond_frames_for_train: bool(true),
  rand_init_cond_frames_for_eval: bool(false),
  add_all_frames_to_correct_as_cond: bool(false),
  num_correction_pt_per_frame: int(7),
  pt_sampling_for_eval: choice(["uniform", "center"], "center"),
  prob_to_sample_from_gt_for_train: float(0.0),
  use_act_ckpt_iterative_pt_sampling: bool(false),
  forward_backbone_per_frame_for_eval: bool(false),
  freeze_image_encoder: bool(false),
};

/** The names of the SAM2Train-only arguments, to split a SAM2Train node in two. */
export const SAM2_TRAIN_OPTION_KEYS = Object.keys(
  sam2TrainOptionFields,
) as (keyof SAM2TrainOptions)[];

/** SAM2Train as written in a training config (SAM2Base arguments plus training options). */
export const sam2TrainSchema = defineTarget<SAM2TrainConfig>(
  "training.model.sam2.SAM2Train",
  { ...subModuleFields, ...sam2BaseOptionFields, ...sam2TrainOptionFields },
  checkBase,
);

/** The `trainer_model_extra` section of a model file (SAM2Train options only). */
export const trainerModelExtraSchema = defineTarget<TrainerModelExtra>(
  "training.model.sam2.SAM2Train",
  sam2TrainOptionFields,
  undefined,
  false,
);

/** MultiStepMultiMasksAndIous. */
export const lossSchema = defineTarget<MultiStepMultiMasksAndIousConfig>(
  "training.loss_fns.MultiStepMultiMasksAndIous",
  {
    weight_dict: section<LossWeights>("weight_dict", {
      loss_mask: float(),
      loss_dice: float(),
      loss_iou: float(),
      loss_class: float(0.0),
    }),
    focal_alpha: float(0.25),
    focal_gamma: float(2),
    supervise_all_iou: bool(false),
    iou_use_l1_loss: bool(false),
    pred_obj_scores: bool(false),
    focal_gamma_obj_score: float(0.0),
    focal_alpha_obj_score: float(-1),
  },
);

const videoPredictorFields: Fields<SAM2VideoPredictorOptions> = {
  fill_hole_area: int(0),
  non_overlap_masks: bool(false),
  clear_non_cond_mem_around_input: bool(false),
  add_all_frames_to_correct_as_cond: bool(false),
};

/** The names of the video-predictor-only arguments. */
export const VIDEO_PREDICTOR_OPTION_KEYS = Object.keys(
  videoPredictorFields,
) as (keyof SAM2VideoPredictorOptions)[];

/** SAM2VideoPredictor (what `build_sam2_video_predictor` instantiates). */
export const sam2VideoPredictorSchema = defineTarget<SAM2VideoPredictorConfig>(
  "sam2.sam2_video_predictor.SAM2VideoPredictor",
  { ...subModuleFields, ...sam2BaseOptionFields, ...videoPredictorFields },
  checkBase,
);

/** SAM2VideoPredictorVOS (the same arguments; the reference adds torch.compile). */
export const sam2VideoPredictorVOSSchema = defineTarget<SAM2VideoPredictorConfig>(
  "sam2.sam2_video_predictor.SAM2VideoPredictorVOS",
  { ...subModuleFields, ...sam2BaseOptionFields, ...videoPredictorFields },
  checkBase,
);
