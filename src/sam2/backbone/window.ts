/**
 * Hiera's window partitioning on channels-last maps (sam2/modeling/backbones/utils.py).
 * Padding is with zeros and is NOT masked afterwards: padded tokens take part in attention
 * exactly as in the reference (quirk 1 of the sam2-mini fixture).
 */
import { pad, slice } from "../../tensor/ops/layout.ts";
import type { Tensor } from "../../tensor/mod.ts";

/** Padded size of `n` up to a multiple of `ws`. */
export function paddedSize(n: number, ws: number): number {
  return n + (ws - (n % ws)) % ws;
}

/** [B, H, W, C] -> [B * nWindows, ws, ws, C], zero-padding H and W up to multiples of ws. */
export function windowPartition(
  x: Tensor,
  ws: number,
): { windows: Tensor; hp: number; wp: number } {
  const [b, h, w, c] = x.shape;
  const hp = paddedSize(h, ws), wp = paddedSize(w, ws);
  const padded = hp > h || wp > w ? pad(x, [0, 0, 0, wp - w, 0, hp - h]) : x;
  const windows = padded
    .reshape([b, hp / ws, ws, wp / ws, ws, c])
    .permute([0, 1, 3, 2, 4, 5])
    .reshape([-1, ws, ws, c]);
  return { windows, hp, wp };
}

/** Inverse of `windowPartition`: [B * nWindows, ws, ws, C] -> [B, H, W, C], cropping padding. */
export function windowUnpartition(
  windows: Tensor,
  ws: number,
  padded: { hp: number; wp: number },
  size: { h: number; w: number },
): Tensor {
  const { hp, wp } = padded;
  const b = windows.shape[0] / ((hp * wp) / ws / ws);
  let x = windows
    .reshape([b, hp / ws, wp / ws, ws, ws, -1])
    .permute([0, 1, 3, 2, 4, 5])
    .reshape([b, hp, wp, -1]);
  if (hp > size.h) x = slice(x, 1, 0, size.h);
  if (wp > size.w) x = slice(x, 2, 0, size.w);
  return x;
}
