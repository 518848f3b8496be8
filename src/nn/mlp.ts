import { sigmoid } from "../tensor/ops/unary.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Activation, type ActivationName } from "./activation.ts";
import { ModuleList } from "./containers.ts";
import { Linear } from "./linear.ts";
import { Module } from "./module.ts";

/** Options of `MLP`. */
export interface MLPOptions {
  /** Activation between layers. @default "relu" */
  activation?: ActivationName;
  /** Apply a sigmoid to the output. @default false */
  sigmoidOutput?: boolean;
}

/**
 * SAM's `MLP` (sam2/modeling/sam2_utils.py): `numLayers` Linear layers in `layers.<i>`,
 * input -> hidden x (numLayers - 1) -> output, the activation after every layer but the last,
 * optional sigmoid on the output.
 */
export class MLP extends Module {
  /** The Linear layers. */
  readonly layers: ModuleList<Linear>;
  readonly #act: Activation;
  readonly #sigmoidOutput: boolean;
  constructor(
    inputDim: number,
    hiddenDim: number,
    outputDim: number,
    readonly numLayers: number,
    opts: MLPOptions = {},
  ) {
    super();
    const h = Array(numLayers - 1).fill(hiddenDim);
    const ins = [inputDim, ...h], outs = [...h, outputDim];
    this.layers = this.module("layers", new ModuleList(ins.map((n, i) => new Linear(n, outs[i]))));
    this.#act = new Activation(opts.activation ?? "relu");
    this.#sigmoidOutput = opts.sigmoidOutput ?? false;
  }

  /** Applies the layers. */
  forward(x: Tensor): Tensor {
    let i = 0;
    for (const layer of this.layers) {
      x = layer.forward(x);
      if (i++ < this.numLayers - 1) x = this.#act.forward(x);
    }
    return this.#sigmoidOutput ? sigmoid(x) : x;
  }
}
