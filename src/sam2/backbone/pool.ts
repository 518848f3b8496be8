import { maxPool2d } from "../../tensor/ops/max_pool2d.ts";
import type { Tensor } from "../../tensor/mod.ts";

/**
 * Hiera's `do_pool`: max-pools a channels-last map [B, H, W, C] with kernel = stride = `stride`
 * (floor mode), returning channels-last.
 */
export function poolChannelsLast(x: Tensor, stride: readonly [number, number]): Tensor {
  const y = maxPool2d(x.permute([0, 3, 1, 2]), { kernelSize: stride, stride });
  return y.permute([0, 2, 3, 1]);
}
