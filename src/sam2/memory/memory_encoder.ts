import { Activation } from "../../nn/activation.ts";
import { Conv2d } from "../../nn/conv2d.ts";
import { ModuleList, Sequential } from "../../nn/containers.ts";
import { LayerNorm2d } from "../../nn/layer_norm2d.ts";
import { Linear } from "../../nn/linear.ts";
import { Module } from "../../nn/module.ts";
import { dropPath, full, gelu, sigmoid, type Tensor } from "../../tensor/mod.ts";
import type {
  CXBlockConfig,
  FuserConfig,
  MaskDownSamplerConfig,
  MemoryEncoderConfig,
} from "../config/mod.ts";
import { PositionEmbeddingSine } from "../position_encoding.ts";

/**
 * `MaskDownSampler`: log_stride(total_stride) conv + LayerNorm2d + GELU stages, each multiplying
 * channels by stride², then a 1x1 conv to `embed_dim` (keys `encoder.<i>.*`).
 */
export class MaskDownSampler extends Module {
  readonly encoder: Sequential;
  constructor(readonly config: MaskDownSamplerConfig) {
    super();
    const { stride, total_stride: total, kernel_size: k, padding } = config;
    const numLayers = Math.floor(Math.log2(total) / Math.log2(stride));
    if (stride ** numLayers !== total) {
      throw new RangeError(`MaskDownSampler: total_stride ${total} is not a power of ${stride}`);
    }
    const layers = [];
    let cin = 1, cout = 1;
    for (let i = 0; i < numLayers; i++) {
      cout = cin * stride * stride;
      layers.push(new Conv2d(cin, cout, k, { stride, padding }), new LayerNorm2d(cout));
      layers.push(new Activation("gelu"));
      cin = cout;
    }
    layers.push(new Conv2d(cout, config.embed_dim, 1));
    this.encoder = this.module("encoder", new Sequential(layers));
  }

  forward(x: Tensor): Tensor {
    return this.encoder.forward(x);
  }
}

/** ConvNeXt `CXBlock`: depthwise conv, LayerNorm2d, pointwise MLP (as Linear), layer scale. */
export class CXBlock extends Module {
  readonly dwconv: Conv2d;
  readonly norm: LayerNorm2d;
  readonly pwconv1: Linear;
  readonly pwconv2: Linear;
  readonly gamma: Tensor | null;
  constructor(readonly config: CXBlockConfig) {
    super();
    const d = config.dim;
    this.dwconv = this.module(
      "dwconv",
      new Conv2d(d, d, config.kernel_size, {
        padding: config.padding,
        groups: config.use_dwconv ? d : 1,
      }),
    );
    this.norm = this.module("norm", new LayerNorm2d(d, { eps: 1e-6 }));
    this.pwconv1 = this.module("pwconv1", new Linear(d, 4 * d));
    this.pwconv2 = this.module("pwconv2", new Linear(4 * d, d));
    this.gamma = this.param(
      "gamma",
      config.layer_scale_init_value > 0 ? full([d], config.layer_scale_init_value) : null,
    );
  }

  forward(input: Tensor): Tensor {
    let x = this.norm.forward(this.dwconv.forward(input)).permute([0, 2, 3, 1]);
    x = this.pwconv2.forward(gelu(this.pwconv1.forward(x)));
    if (this.gamma) x = x.mul(this.gamma);
    x = x.permute([0, 3, 1, 2]);
    const p = this.config.drop_path;
    return input.add(this.training && p > 0 ? dropPath(x, p) : x);
  }
}

/** `Fuser`: an optional 1x1 input projection, then `num_layers` CX blocks. */
export class Fuser extends Module {
  readonly proj: Conv2d | null;
  readonly layers: ModuleList<CXBlock>;
  constructor(readonly config: FuserConfig) {
    super();
    if (config.input_projection && config.dim === null) {
      throw new RangeError("Fuser: input_projection needs dim");
    }
    this.proj = this.module(
      "proj",
      config.input_projection ? new Conv2d(config.dim!, config.dim!, 1) : null,
    );
    this.layers = this.module(
      "layers",
      new ModuleList(Array.from({ length: config.num_layers }, () => new CXBlock(config.layer))),
    );
  }

  forward(x: Tensor): Tensor {
    if (this.proj) x = this.proj.forward(x);
    for (const layer of this.layers) x = layer.forward(x);
    return x;
  }
}

/**
 * `MemoryEncoder`: fuses the frame's features with its downsampled mask (sigmoid unless
 * skipped) into a memory of `out_dim` channels plus its sine position table.
 */
export class MemoryEncoder extends Module {
  readonly mask_downsampler: MaskDownSampler;
  readonly pix_feat_proj: Conv2d;
  readonly fuser: Fuser;
  readonly position_encoding: PositionEmbeddingSine;
  readonly out_proj: Conv2d | null;
  constructor(readonly config: MemoryEncoderConfig) {
    super();
    const { in_dim: inDim, out_dim: outDim } = config;
    this.mask_downsampler = this.module(
      "mask_downsampler",
      new MaskDownSampler(config.mask_downsampler),
    );
    this.pix_feat_proj = this.module("pix_feat_proj", new Conv2d(inDim, inDim, 1));
    this.fuser = this.module("fuser", new Fuser(config.fuser));
    this.position_encoding = this.module(
      "position_encoding",
      new PositionEmbeddingSine(config.position_encoding),
    );
    this.out_proj = this.module("out_proj", outDim !== inDim ? new Conv2d(inDim, outDim, 1) : null);
  }

  /** Output channels (the reference's `mem_dim` source). */
  get outDim(): number {
    return this.config.out_dim;
  }

  forward(
    pixFeat: Tensor,
    masks: Tensor,
    skipMaskSigmoid = false,
  ): { vision_features: Tensor; vision_pos_enc: Tensor[] } {
    const m = this.mask_downsampler.forward(skipMaskSigmoid ? masks : sigmoid(masks));
    let x = this.pix_feat_proj.forward(pixFeat).add(m);
    x = this.fuser.forward(x);
    if (this.out_proj) x = this.out_proj.forward(x);
    return { vision_features: x, vision_pos_enc: [this.position_encoding.forward(x)] };
  }
}
