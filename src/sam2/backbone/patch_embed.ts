import { Conv2d } from "../../nn/conv2d.ts";
import { Module } from "../../nn/module.ts";
import type { Tensor } from "../../tensor/mod.ts";

/** Hiera's `PatchEmbed`: a 7x7 stride-4 pad-3 conv, output channels-last [B, H/4, W/4, C]. */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  constructor(embedDim: number, inChans = 3) {
    super();
    this.proj = this.module("proj", new Conv2d(inChans, embedDim, 7, { stride: 4, padding: 3 }));
  }

  forward(x: Tensor): Tensor {
    return this.proj.forward(x).permute([0, 2, 3, 1]);
  }
}
