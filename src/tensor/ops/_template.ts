import type { DType } from "../../kernels/dtype.ts";
import { computeType } from "../../kernels/dtype.ts";
import type { Tensor } from "../tensor.ts";

/** A value an op operand may be: a tensor or a JS number (a scalar uniform). */
export type TensorLike = Tensor | number;

/**
 * Fills an expression template: `{name}` placeholders become `x<k>` for tensors (bound in the
 * returned order) or a scalar uniform `s<j>` for numbers, converted to `ct`.
 */
export function fillTemplate(
  template: string,
  values: Record<string, TensorLike>,
  ct: "f32" | "i32" | "u32",
): { expr: string; tensors: Tensor[]; scalars: number[] } {
  const tensors: Tensor[] = [];
  const scalars: number[] = [];
  const names = new Map<string, string>();
  const expr = template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const known = names.get(key);
    if (known) return known;
    const v = values[key];
    if (v === undefined) throw new Error(`Template value {${key}} missing in "${template}"`);
    let name: string;
    if (typeof v === "number") {
      name = `${ct}(s${scalars.length})`;
      scalars.push(v);
    } else {
      const conv = computeType(v.dtype) === ct ? "" : ct;
      name = conv ? `${conv}(x${tensors.length})` : `x${tensors.length}`;
      tensors.push(v);
    }
    names.set(key, name);
    return name;
  });
  if (scalars.length > 4) throw new Error(`At most 4 scalars per kernel: "${template}"`);
  return { expr: `(${expr})`, tensors, scalars };
}

/** Compute type for mixed operands: f32 if any float, else the first integer type. */
export function promote(dtypes: readonly DType[]): "f32" | "i32" | "u32" {
  if (dtypes.length === 0) return "f32";
  if (dtypes.some((d) => d === "f32" || d === "f16")) return "f32";
  return computeType(dtypes[0]);
}
