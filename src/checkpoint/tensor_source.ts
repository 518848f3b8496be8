/**
 * Tensors whose bytes are fetched when needed, so writers can stream a multi-GB checkpoint
 * (header first, one tensor's data at a time) instead of holding all of it.
 */
import type { HostDType, HostTensor } from "./host_tensor.ts";
import { castTensor, isHostTensor } from "./host_tensor.ts";

/** A tensor known by dtype and shape whose bytes are read on `load()`. */
export interface TensorSource {
  readonly dtype: HostDType;
  readonly shape: readonly number[];
  readonly requiresGrad?: boolean;
  load(): Promise<HostTensor>;
}

/** True for a lazy tensor (dtype, shape and a `load` method) that is not a HostTensor. */
export function isTensorSource(v: unknown): v is TensorSource {
  return typeof v === "object" && v !== null && !isHostTensor(v) &&
    typeof (v as TensorSource).load === "function" &&
    typeof (v as TensorSource).dtype === "string" && Array.isArray((v as TensorSource).shape);
}

/** A HostTensor or a TensorSource, as a TensorSource. */
export function asSource(t: HostTensor | TensorSource): TensorSource {
  if (!isHostTensor(t)) return t;
  return {
    dtype: t.dtype,
    shape: t.shape,
    requiresGrad: t.requiresGrad,
    load: () => Promise.resolve(t),
  };
}

/** A source that casts floating tensors to `dtype` when loaded (others pass through). */
export function castSource(t: TensorSource, dtype: HostDType): TensorSource {
  const floats = ["float32", "float16", "bfloat16", "float64"];
  if (!floats.includes(t.dtype) || t.dtype === dtype) return t;
  return {
    dtype,
    shape: t.shape,
    requiresGrad: t.requiresGrad,
    load: async () => castTensor(await t.load(), dtype),
  };
}
