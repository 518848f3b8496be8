/**
 * Which PyTorch class owns each parameter. The reference's optimizer selects parameters by the
 * exact class of the module that holds them directly (`module_cls_names: ['torch.nn.LayerNorm']`
 * in `get_module_cls_to_param_names`, `type(module)`, not isinstance), so every module class of
 * ours is mapped to the class the reference model has at the same place.
 */
import type { Module } from "../../nn/module.ts";
import type { ParamOwnerInfo } from "../config/param_groups.ts";

/**
 * Our class names (`constructor.name`) to the reference's class paths. Classes that hold no
 * parameters of their own are listed too, so the table documents the whole model tree.
 */
export const TORCH_MODULE_CLASSES: Readonly<Record<string, string>> = {
  // src/nn
  Module: "torch.nn.Module",
  Linear: "torch.nn.Linear",
  Conv2d: "torch.nn.Conv2d",
  ConvTranspose2d: "torch.nn.ConvTranspose2d",
  LayerNorm: "torch.nn.LayerNorm",
  LayerNorm2d: "sam2.modeling.sam2_utils.LayerNorm2d",
  Embedding: "torch.nn.Embedding",
  Dropout: "torch.nn.Dropout",
  Identity: "torch.nn.Identity",
  ModuleList: "torch.nn.ModuleList",
  Sequential: "torch.nn.Sequential",
  Activation: "torch.nn.Module",
  MLP: "sam2.modeling.sam2_utils.MLP",
  Attention: "sam2.modeling.sam.transformer.Attention",
  RoPEAttention: "sam2.modeling.sam.transformer.RoPEAttention",
  // src/sam2
  SAM2Base: "sam2.modeling.sam2_base.SAM2Base",
  SAM2Train: "training.model.sam2.SAM2Train",
  ImageEncoder: "sam2.modeling.backbones.image_encoder.ImageEncoder",
  Hiera: "sam2.modeling.backbones.hieradet.Hiera",
  PatchEmbed: "sam2.modeling.backbones.utils.PatchEmbed",
  MultiScaleBlock: "sam2.modeling.backbones.hieradet.MultiScaleBlock",
  MultiScaleAttention: "sam2.modeling.backbones.hieradet.MultiScaleAttention",
  FpnNeck: "sam2.modeling.backbones.image_encoder.FpnNeck",
  // FpnNeck's per-level `nn.Sequential` holding one child named `conv`.
  Lateral: "torch.nn.Sequential",
  PositionEmbeddingSine: "sam2.modeling.position_encoding.PositionEmbeddingSine",
  PositionEmbeddingRandom: "sam2.modeling.position_encoding.PositionEmbeddingRandom",
  PromptEncoder: "sam2.modeling.sam.prompt_encoder.PromptEncoder",
  MaskDecoder: "sam2.modeling.sam.mask_decoder.MaskDecoder",
  TwoWayTransformer: "sam2.modeling.sam.transformer.TwoWayTransformer",
  TwoWayAttentionBlock: "sam2.modeling.sam.transformer.TwoWayAttentionBlock",
  MemoryAttention: "sam2.modeling.memory_attention.MemoryAttention",
  MemoryAttentionLayer: "sam2.modeling.memory_attention.MemoryAttentionLayer",
  MemoryEncoder: "sam2.modeling.memory_encoder.MemoryEncoder",
  MaskDownSampler: "sam2.modeling.memory_encoder.MaskDownSampler",
  Fuser: "sam2.modeling.memory_encoder.Fuser",
  CXBlock: "sam2.modeling.memory_encoder.CXBlock",
};

/** Options for {@link paramOwners}. */
export interface ParamOwnersOptions {
  /**
   * Extra or overriding entries (our class name -> torch class path), e.g. for a test model.
   * @default {}
   */
  classes?: Record<string, string>;
}

/**
 * Every parameter of `model` (model order, `namedParameters()` names) with the torch class of the
 * module that owns it directly: what `buildParamGroups` needs.
 *
 * @throws {Error} naming the parameter and the class when a class is not in the table.
 */
export function paramOwners(model: Module, options: ParamOwnersOptions = {}): ParamOwnerInfo[] {
  const table = { ...TORCH_MODULE_CLASSES, ...(options.classes ?? {}) };
  const modules = new Map(model.namedModules());
  return model.namedParameters().map(([name]) => {
    const dot = name.lastIndexOf(".");
    const owner = modules.get(dot < 0 ? "" : name.slice(0, dot));
    if (!owner) throw new Error(`Parameter "${name}" has no owning module in the model tree`);
    const ours = owner.constructor.name;
    const moduleClass = table[ours];
    if (!moduleClass) {
      throw new Error(
        `Parameter "${name}" is owned by a ${ours}, which has no PyTorch class in ` +
          `TORCH_MODULE_CLASSES: add it there (or pass options.classes) so optimizer param ` +
          `groups can select it by module_cls_names`,
      );
    }
    return { name, moduleClass };
  });
}
