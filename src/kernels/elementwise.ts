import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";
import { computeType, type DType, enableF16 } from "./dtype.ts";
import { helperCode } from "./helpers.ts";

/** Maximum rank the strided index math handles. */
export const MAX_RANK = 8;

/** One operand of an elementwise kernel. */
export interface ElementwiseOperand {
  /** Storage dtype. */
  dtype: DType;
  /** False: contiguous with the output's element order (index = offset + i); true: strided. */
  strided: boolean;
}

/** Spec of an elementwise kernel (map over the output's elements). */
export interface ElementwiseSpec {
  /** Op name, first part of the label. */
  name: string;
  /**
   * WGSL expression of the result. It sees `x0..x{n-1}` (inputs loaded in their compute type:
   * f32 for f32/f16, i32, u32), `s0..s3` (f32 scalars from the uniforms), `idx` (u32 flat output
   * index over the whole output, also in split launches) and any `helpers` (`erf_`, `tanh_`, `sigmoid_`, `softplus_`).
   */
  expr: string;
  /** Inputs, bound in order after the output. */
  inputs: readonly ElementwiseOperand[];
  /** The output. */
  out: ElementwiseOperand;
  /** Helper functions the expression calls. @default [] */
  helpers?: readonly string[];
  /** The expression may read the output's current value as `o` (in-place updates). @default false */
  readOut?: boolean;
}

/** Bytes of the uniform block for `nIn` inputs; see `elementwiseUniforms`. */
export function elementwiseUniformBytes(nIn: number): number {
  return 96 + 16 * Math.max(2 * nIn, 1) + 16 * Math.ceil((nIn + 1) / 4);
}

/**
 * Packs the uniforms of an elementwise launch: element count, rank, flat index of the first
 * element, scalars, output shape, output strides, input strides and element offsets (output
 * first).
 */
export function elementwiseUniforms(args: {
  n: number;
  /** Flat output index of element 0 of this launch (`idx` = base + i; split launches). */
  base?: number;
  shape: readonly number[];
  outStrides: readonly number[];
  outOffset: number;
  inStrides: readonly (readonly number[])[];
  inOffsets: readonly number[];
  scalars?: readonly number[];
}): ArrayBuffer {
  const nIn = args.inStrides.length;
  const buf = new ArrayBuffer(elementwiseUniformBytes(nIn));
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  u[0] = args.n;
  u[1] = args.shape.length;
  u[2] = args.base ?? 0;
  (args.scalars ?? []).forEach((s, i) => f[4 + i] = s);
  args.shape.forEach((s, i) => u[8 + i] = s);
  args.outStrides.forEach((s, i) => u[16 + i] = s);
  args.inStrides.forEach((st, k) => st.forEach((s, i) => u[24 + 8 * k + i] = s));
  const o = 24 + 4 * Math.max(2 * nIn, 1);
  u[o] = args.outOffset;
  args.inOffsets.forEach((v, k) => u[o + 1 + k] = v);
  return buf;
}

/**
 * Elementwise map with broadcasting through strides. Layout: 64 threads per workgroup, a 1-D grid
 * of at most 65535 workgroups; each thread walks the flat output index with a grid-size stride.
 * Strided operands turn the flat index into coordinates with one div/mod per dimension (a loop
 * over the uniform rank, not unrolled, so one kernel serves every rank); contiguous ones read
 * `offset + i` directly. Broadcast dimensions have stride 0. A launch may cover a block of a
 * larger output (split over the binding limit): offsets are then relative to the bound ranges and
 * `idx` adds the block's first flat index (`base`).
 */
export function elementwiseKernel(spec: ElementwiseSpec): KernelSource {
  return memoKernel(
    `elementwiseKernel:${JSON.stringify(spec)}`,
    () => buildElementwiseKernel(spec),
  );
}

function buildElementwiseKernel(spec: ElementwiseSpec): KernelSource {
  const n = spec.inputs.length;
  const dts = [spec.out.dtype, ...spec.inputs.map((i) => i.dtype)];
  const anyStrided = spec.out.strided || spec.inputs.some((i) => i.strided);
  const nOff = Math.ceil((n + 1) / 4);
  const decl = spec.inputs.map((inp, k) =>
    `@group(0) @binding(${k + 1}) var<storage, read> in${k}: array<${inp.dtype}>;`
  ).join("\n");
  const off = (slot: number) => `u.offs[${slot >> 2}][${slot & 3}]`;
  const strideAcc = [
    spec.out.strided ? `oo += c * u.ostr[d >> 2u][d & 3u];` : "",
    ...spec.inputs.map((inp, k) =>
      inp.strided ? `o${k} += c * u.istr[${2 * k}u + (d >> 2u)][d & 3u];` : ""
    ),
  ].join(" ");
  const loads = spec.inputs.map((inp, k) =>
    `let x${k} = ${computeType(inp.dtype)}(in${k}[${off(k + 1)} + ${inp.strided ? `o${k}` : "i"}]);`
  ).join("\n    ");
  const code = `${enableF16(dts)}
struct U {
  n: u32, rank: u32, base: u32, p1: u32,
  scal: vec4<f32>,
  shape: array<vec4<u32>, 2>,
  ostr: array<vec4<u32>, 2>,
  istr: array<vec4<u32>, ${Math.max(2 * n, 1)}>,
  offs: array<vec4<u32>, ${nOff}>,
};
@group(0) @binding(0) var<storage, read_write> out: array<${spec.out.dtype}>;
${decl}
@group(0) @binding(${n + 1}) var<uniform> u: U;
${helperCode(spec.helpers)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s0 = u.scal.x; let s1 = u.scal.y; let s2 = u.scal.z; let s3 = u.scal.w;
  let total = nwg.x * 64u;
  for (var i = gid.x; i < u.n; i += total) {
    let idx = u.base + i;
    var oo = 0u;${spec.inputs.map((_, k) => ` var o${k} = 0u;`).join("")}
    ${
    anyStrided
      ? `var rem = i;
    for (var d = u.rank; d > 0u; ) {
      d -= 1u;
      let sz = u.shape[d >> 2u][d & 3u];
      let c = rem % sz;
      rem = rem / sz;
      ${strideAcc}
    }`
      : ""
  }
    ${loads}
    ${
    spec.readOut
      ? `let o = ${computeType(spec.out.dtype)}(out[${off(0)} + ${spec.out.strided ? "oo" : "i"}]);`
      : ""
  }
    out[${off(0)} + ${spec.out.strided ? "oo" : "i"}] = ${spec.out.dtype}(${spec.expr});
  }
}
`;
  const label = `elementwise[${spec.name}|${spec.expr}|${
    spec.inputs.map((i) => `${i.dtype}${i.strided ? "s" : "c"}`).join(",")
  }->${spec.out.dtype}${spec.out.strided ? "s" : "c"}${spec.readOut ? ",inplace" : ""}]`;
  return {
    label,
    code,
    bindings: ["write", ...spec.inputs.map(() => "read" as const), "uniform"],
    workgroupSize: [64, 1, 1],
  };
}

/** Workgroups for an elementwise launch over `n` elements. */
export function elementwiseWorkgroups(n: number): [number] {
  return [Math.max(1, Math.min(Math.ceil(n / 64), 65535))];
}
