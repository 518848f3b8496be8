import { convTranspose2d } from "../tensor/ops/conv_transpose2d.ts";
import type { Pair } from "../tensor/ops/conv2d.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { biasUniformDefault, fanIn, kaimingUniformDefault } from "./init.ts";
import { Module } from "./module.ts";

/** Options of `ConvTranspose2d` (PyTorch's `nn.ConvTranspose2d` keywords). */
export interface ConvTranspose2dLayerOptions {
  /** @default 1 */
  stride?: Pair;
  /** @default 0 */
  padding?: Pair;
  /** @default 0 */
  outputPadding?: Pair;
  /** @default 1 */
  dilation?: Pair;
  /** @default 1 */
  groups?: number;
  /** Add a learnable bias. @default true */
  bias?: boolean;
}

/**
 * `nn.ConvTranspose2d`: keys `weight` [in, out/groups, kH, kW] (PyTorch's layout) and `bias`
 * [out]. Init as PyTorch: U(+-1/sqrt(fan_in)) where fan_in is computed from the weight's dim 1
 * (out/groups * kH * kW), for the weight and the bias.
 */
export class ConvTranspose2d extends Module {
  /** [inChannels, outChannels/groups, kH, kW] */
  readonly weight: Tensor;
  /** [outChannels] or null */
  readonly bias: Tensor | null;
  readonly #opts: ConvTranspose2dLayerOptions;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === "number" ? [kernelSize, kernelSize] : kernelSize;
    const groups = opts.groups ?? 1;
    if (inChannels % groups || outChannels % groups) {
      throw new RangeError(
        `ConvTranspose2d: in (${inChannels}) and out (${outChannels}) channels must be ` +
          `divisible by groups (${groups})`,
      );
    }
    this.#opts = opts;
    const shape = [inChannels, outChannels / groups, kh, kw];
    this.weight = this.param("weight", kaimingUniformDefault(shape));
    this.bias = this.param(
      "bias",
      opts.bias ?? true ? biasUniformDefault(outChannels, fanIn(shape)) : null,
    );
  }

  /** Applies the transposed convolution to x [N, inChannels, H, W]. */
  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.#opts);
  }
}
