import { Module } from "../../nn/module.ts";
import type { Tensor } from "../../tensor/mod.ts";
import type { ImageEncoderConfig } from "../config/mod.ts";
import { FpnNeck } from "./fpn_neck.ts";
import { Hiera, type HieraTap } from "./hiera.ts";

/** What the image encoder returns (the reference's output dict). */
export interface ImageEncoderOutput {
  /** The lowest kept level (`features[-1]`). */
  vision_features: Tensor;
  /** Sine position tables, one per kept level. */
  vision_pos_enc: Tensor[];
  /** FPN levels, highest resolution first, after dropping `scalp` lowest-resolution ones. */
  backbone_fpn: Tensor[];
}

/** SAM 2's `ImageEncoder`: Hiera trunk + FPN neck, dropping the `scalp` coarsest levels. */
export class ImageEncoder extends Module {
  readonly trunk: Hiera;
  readonly neck: FpnNeck;
  constructor(readonly config: ImageEncoderConfig) {
    super();
    this.trunk = this.module("trunk", new Hiera(config.trunk));
    this.neck = this.module("neck", new FpnNeck(config.neck));
    const a = this.trunk.channelList.join(","), b = config.neck.backbone_channel_list.join(",");
    if (a !== b) {
      throw new RangeError(
        `ImageEncoder: channel dims of trunk and neck do not match. Trunk: [${a}], neck: [${b}]`,
      );
    }
  }

  forward(
    sample: Tensor,
    tap?: HieraTap & { neck?(features: Tensor[]): void },
  ): ImageEncoderOutput {
    const { features, pos } = this.neck.forward(this.trunk.forward(sample, tap));
    tap?.neck?.(features);
    const keep = features.length - this.config.scalp;
    const fpn = features.slice(0, keep), pe = pos.slice(0, keep);
    return { vision_features: fpn[fpn.length - 1], vision_pos_enc: pe, backbone_fpn: fpn };
  }
}
