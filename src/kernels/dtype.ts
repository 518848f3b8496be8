/** Element types a tensor can store. f16 needs the device feature `shader-f16`. */
export type DType = "f32" | "f16" | "i32" | "u32";

/** Bytes per element. */
export function dtypeBytes(d: DType): number {
  return d === "f16" ? 2 : 4;
}

/** WGSL storage type of a dtype. */
export function wgslType(d: DType): string {
  return d;
}

/** WGSL type values of a dtype are computed in (f16 storage is computed in f32). */
export function computeType(d: DType): "f32" | "i32" | "u32" {
  return d === "f16" ? "f32" : d;
}

/** `enable f16;` when any of the dtypes is f16 (WGSL rejects f16 without it). */
export function enableF16(dtypes: readonly DType[]): string {
  return dtypes.includes("f16") ? "enable f16;\n" : "";
}
