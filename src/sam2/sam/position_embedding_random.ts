import { Module } from "../../nn/module.ts";
import { normalInit } from "../../nn/init.ts";
import { cat, cos, sin, type Tensor, tensor } from "../../tensor/mod.ts";

/**
 * `PositionEmbeddingRandom`: random-Fourier features of normalised (x, y) coordinates through the
 * [2, C] buffer `positional_encoding_gaussian_matrix`: `cat(sin(2π(2c-1)G), cos(2π(2c-1)G))`.
 */
export class PositionEmbeddingRandom extends Module {
  readonly positional_encoding_gaussian_matrix: Tensor;
  constructor(readonly numPosFeats = 64, scale: number | null = null) {
    super();
    const s = scale === null || scale <= 0 ? 1 : scale;
    this.positional_encoding_gaussian_matrix = this.buffer(
      "positional_encoding_gaussian_matrix",
      normalInit([2, numPosFeats]).mul(s),
    );
  }

  /** Encodes coordinates in [0, 1]^2, shape [..., 2] -> [..., 2C]. */
  encode(coords: Tensor): Tensor {
    const c = coords.mul(2).sub(1).matmul(this.positional_encoding_gaussian_matrix).mul(
      2 * Math.PI,
    );
    return cat([sin(c), cos(c)], -1);
  }

  /** The dense table [2C, h, w] for a grid of pixel centres. */
  grid(h: number, w: number): Tensor {
    const xy = new Float32Array(h * w * 2);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        xy[(y * w + x) * 2] = Math.fround(Math.fround(x + 0.5) / w);
        xy[(y * w + x) * 2 + 1] = Math.fround(Math.fround(y + 0.5) / h);
      }
    }
    return this.encode(tensor(xy, [h, w, 2])).permute([2, 0, 1]);
  }

  /**
   * Encodes pixel coordinates [B, N, 2] (x, y) of an image of `imageSize` (h, w): x / w, y / h.
   */
  forwardWithCoords(coords: Tensor, imageSize: readonly [number, number]): Tensor {
    const size = tensor(new Float32Array([imageSize[1], imageSize[0]]), [2]);
    return this.encode(coords.div(size));
  }
}
