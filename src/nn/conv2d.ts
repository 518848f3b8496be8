import { conv2d, type Pair } from "../tensor/ops/conv2d.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { biasUniformDefault, fanIn, kaimingUniformDefault } from "./init.ts";
import { Module } from "./module.ts";

/** Options of `Conv2d` (PyTorch's `nn.Conv2d` keywords). */
export interface Conv2dLayerOptions {
  /** @default 1 */
  stride?: Pair;
  /** @default 0 */
  padding?: Pair;
  /** @default 1 */
  dilation?: Pair;
  /** @default 1 */
  groups?: number;
  /** Add a learnable bias. @default true */
  bias?: boolean;
}

/**
 * `nn.Conv2d` (NCHW, zero padding): keys `weight` [out, in/groups, kH, kW] and `bias` [out], with
 * PyTorch's default init (kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias likewise).
 */
export class Conv2d extends Module {
  /** [outChannels, inChannels/groups, kH, kW] */
  readonly weight: Tensor;
  /** [outChannels] or null */
  readonly bias: Tensor | null;
  readonly #opts: Conv2dLayerOptions;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === "number" ? [kernelSize, kernelSize] : kernelSize;
    const groups = opts.groups ?? 1;
    if (inChannels % groups || outChannels % groups) {
      throw new RangeError(
        `Conv2d: in (${inChannels}) and out (${outChannels}) channels must be divisible by ` +
          `groups (${groups})`,
      );
    }
    this.#opts = opts;
    const shape = [outChannels, inChannels / groups, kh, kw];
    this.weight = this.param("weight", kaimingUniformDefault(shape));
    this.bias = this.param(
      "bias",
      opts.bias ?? true ? biasUniformDefault(outChannels, fanIn(shape)) : null,
    );
  }

  /** Applies the convolution to x [N, inChannels, H, W]. */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.#opts);
  }
}
