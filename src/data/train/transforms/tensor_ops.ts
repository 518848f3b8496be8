/**
 * The pixel work of `ToTensorAPI` + `NormalizeAPI`: per-channel float32 tables for every byte
 * value and the HWC uint8 -> CHW float32 conversion through them (tensor.ts holds the
 * transforms).
 *
 * @module
 */
import { hostBufferPool } from "../buffer_pool.ts";

/**
 * Per-channel tables of `F.normalize(F.to_tensor(x))` for every byte value, in torch's float32
 * steps (`x / 255`, then `(x - mean) / std`); without mean/std, only `x / 255`.
 */
export function toTensorLuts(mean?: number[], std?: number[]): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      const x = Math.fround(v / 255);
      lut[v] = mean && std
        ? Math.fround(Math.fround(x - Math.fround(mean[c])) / Math.fround(std[c]))
        : x;
    }
    return lut;
  });
}

/** An RGB uint8 HWC image to a [3, H, W] float32 tensor through {@linkcode toTensorLuts}. */
export function toTensorNormalize(
  img: { width: number; height: number; data: Uint8Array },
  luts: Float32Array[],
  out?: Float32Array,
): Float32Array {
  const n = img.width * img.height, d = img.data;
  const t = out ?? hostBufferPool.f32(3 * n);
  const [l0, l1, l2] = luts;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    t[i] = l0[d[j]];
    t[n + i] = l1[d[j + 1]];
    t[2 * n + i] = l2[d[j + 2]];
  }
  return t;
}
