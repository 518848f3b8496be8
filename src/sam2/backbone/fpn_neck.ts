import { Conv2d } from "../../nn/conv2d.ts";
import { ModuleList } from "../../nn/containers.ts";
import { Module } from "../../nn/module.ts";
import { interpolate } from "../../tensor/ops/interpolate.ts";
import type { Tensor } from "../../tensor/mod.ts";
import type { FpnNeckConfig } from "../config/mod.ts";
import { PositionEmbeddingSine } from "../position_encoding.ts";

/** The reference's `nn.Sequential` holding one child named `conv` (keys `convs.<i>.conv.*`). */
class Lateral extends Module {
  readonly conv: Conv2d;
  constructor(conv: Conv2d) {
    super();
    this.conv = this.module("conv", conv);
  }

  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
}

/**
 * SAM 2's `FpnNeck`: a lateral conv per trunk level (`convs.<i>.conv`, deepest level first),
 * top-down ×2 upsampling summed (or averaged) only into `fpn_top_down_levels`, and a sine
 * position table per level. Inputs and outputs are highest resolution first.
 */
export class FpnNeck extends Module {
  readonly position_encoding: PositionEmbeddingSine;
  readonly convs: ModuleList<Lateral>;
  readonly topDownLevels: number[];
  constructor(readonly config: FpnNeckConfig) {
    super();
    if (!["nearest", "bilinear", "bicubic"].includes(config.fpn_interp_model)) {
      throw new RangeError(
        `FpnNeck: fpn_interp_model "${config.fpn_interp_model}" is not supported (nearest, bilinear, bicubic)`,
      );
    }
    this.position_encoding = this.module(
      "position_encoding",
      new PositionEmbeddingSine(config.position_encoding),
    );
    this.convs = this.module(
      "convs",
      new ModuleList(config.backbone_channel_list.map((dim) =>
        new Lateral(
          new Conv2d(dim, config.d_model, config.kernel_size, {
            stride: config.stride,
            padding: config.padding,
          }),
        )
      )),
    );
    this.topDownLevels = config.fpn_top_down_levels ??
      config.backbone_channel_list.map((_, i) => i);
  }

  forward(xs: Tensor[]): { features: Tensor[]; pos: Tensor[] } {
    const n = this.convs.length - 1;
    if (xs.length !== n + 1) {
      throw new RangeError(`FpnNeck: expected ${n + 1} trunk levels, got ${xs.length}`);
    }
    const features: Tensor[] = new Array(n + 1), pos: Tensor[] = new Array(n + 1);
    let prev: Tensor | null = null;
    for (let i = n; i >= 0; i--) {
      const lateral = this.convs.at(n - i).forward(xs[i]);
      if (prev && this.topDownLevels.includes(i)) {
        const mode = this.config.fpn_interp_model as "nearest" | "bilinear" | "bicubic";
        const up = interpolate(prev, {
          scaleFactor: 2,
          mode,
          ...(mode === "nearest" ? {} : { alignCorners: false }),
        });
        prev = lateral.add(up);
        if (this.config.fuse_type === "avg") prev = prev.div(2);
      } else {
        prev = lateral;
      }
      features[i] = prev;
      pos[i] = this.position_encoding.forward(prev);
    }
    return { features, pos };
  }
}
