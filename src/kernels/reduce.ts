import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";
import { computeType, type DType, enableF16 } from "./dtype.ts";

/** Reduction operators. `argmax`/`argmin` write the i32 position along the reduced axis. */
export type ReduceOp = "sum" | "max" | "min" | "argmax" | "argmin";

/** Spec of a reduction over the middle axis of a contiguous [A, R, B] view. */
export interface ReduceSpec {
  op: ReduceOp;
  /** Input dtype. */
  dtype: DType;
  /** Output dtype (i32 for arg reductions). */
  outDtype: DType;
  /**
   * "row" when B == 1: one 64-thread workgroup per output, threads stride over R and combine in
   * workgroup memory. "col" when B > 1: one thread per output (a, b) walking R with stride B, so
   * neighbouring threads read neighbouring addresses.
   */
  layout: "row" | "col";
}

/**
 * Uniforms of a reduction: A, R, B, input offset (elements), output offset, scale (f32), and for
 * the row layout the number of chunks each row is split into (partial results, reduced again).
 */
export function reduceUniforms(
  a: number,
  r: number,
  b: number,
  inOffset: number,
  outOffset: number,
  scale: number,
  chunks = 1,
): ArrayBuffer {
  const buf = new ArrayBuffer(32);
  const u = new Uint32Array(buf);
  u.set([a, r, b, inOffset, outOffset]);
  new Float32Array(buf)[5] = scale;
  u[6] = chunks;
  return buf;
}

/**
 * Sum/max/min/argmax/argmin over R of x[A, R, B] (contiguous from `inOffset`), times `scale` for
 * sums (mean = sum with scale 1/R). Output is [A, B] contiguous. Row layout dispatches one
 * workgroup per (row, chunk): with `chunks` > 1 each row is cut into that many ranges and the
 * output is [A, chunks] partial results (the caller reduces them again; not for arg ops), so a
 * long row keeps many workgroups busy. Col layout: one thread per output in a 1-D grid of
 * 64-thread workgroups (2-D when above 65535 workgroups).
 */
export function reduceKernel(spec: ReduceSpec): KernelSource {
  return memoKernel(`reduceKernel:${JSON.stringify(spec)}`, () => buildReduceKernel(spec));
}

function buildReduceKernel(spec: ReduceSpec): KernelSource {
  const ct = computeType(spec.dtype);
  const isArg = spec.op === "argmax" || spec.op === "argmin";
  const init = spec.op === "sum"
    ? `${ct}(0)`
    : spec.op === "max" || spec.op === "argmax"
    ? (ct === "f32" ? "-3.4028235e38" : ct === "i32" ? "-2147483647 - 1" : "0u")
    : (ct === "f32" ? "3.4028235e38" : ct === "i32" ? "2147483647" : "4294967295u");
  const better = spec.op === "max" || spec.op === "argmax" ? ">" : "<";
  // combine (v, i) into (acc, ai); NaN propagates for max/min like PyTorch.
  const combine = spec.op === "sum"
    ? "acc = acc + v;"
    : isArg
    ? `if (v ${better} acc || (v != v && acc == acc)) { acc = v; ai = i; }`
    : `if (v ${better} acc || v != v) { acc = v; }`;
  const finish = spec.op === "sum"
    ? `${spec.outDtype}(acc * ${ct}(u.scale))`
    : isArg
    ? "i32(ai)"
    : `${spec.outDtype}(acc)`;
  const head = `${enableF16([spec.dtype, spec.outDtype])}
struct U { A: u32, R: u32, B: u32, inOff: u32, outOff: u32, scale: f32, chunks: u32, p1: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<${spec.outDtype}>;
@group(0) @binding(1) var<storage, read> x: array<${spec.dtype}>;
@group(0) @binding(2) var<uniform> u: U;
`;
  let code: string;
  if (spec.layout === "row") {
    code = `${head}
var<workgroup> sv: array<${ct}, 64>;
var<workgroup> si: array<u32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * 65535u;
  if (w >= u.A * u.chunks) { return; }
  let a = w / u.chunks;
  let len = (u.R + u.chunks - 1u) / u.chunks;
  let lo = (w % u.chunks) * len;
  let hi = min(lo + len, u.R);
  let base = u.inOff + a * u.R;
  var acc = ${init};
  var ai = 0u;
  for (var i = lo + lid; i < hi; i += 64u) {
    let v = ${ct}(x[base + i]);
    ${combine}
  }
  sv[lid] = acc;
  si[lid] = ai;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let v = sv[lid + s];
      let i = si[lid + s];
      acc = sv[lid];
      ai = si[lid];
      ${
      isArg
        ? `if (v ${better} acc || (v == acc && i < ai) || (v != v && acc == acc)) { acc = v; ai = i; }`
        : combine
    }
      sv[lid] = acc;
      si[lid] = ai;
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    acc = sv[0];
    ai = si[0];
    out[u.outOff + w] = ${finish};
  }
}
`;
  } else {
    code = `${head}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.x + gid.y * 65535u * 64u;
  if (o >= u.A * u.B) { return; }
  let a = o / u.B;
  let b = o % u.B;
  let base = u.inOff + a * u.R * u.B + b;
  var acc = ${init};
  var ai = 0u;
  for (var i = 0u; i < u.R; i++) {
    let v = ${ct}(x[base + i * u.B]);
    ${combine}
  }
  out[u.outOff + o] = ${finish};
}
`;
  }
  return {
    label: `reduce[${spec.op},${spec.dtype}->${spec.outDtype},${spec.layout}]`,
    code,
    bindings: ["write", "read", "uniform"],
    workgroupSize: [64, 1, 1],
  };
}

/** Workgroups for a reduction launch. */
export function reduceWorkgroups(layout: "row" | "col", a: number, b: number): [number, number] {
  const groups = layout === "row" ? a : Math.ceil((a * b) / 64);
  return [Math.max(1, Math.min(groups, 65535)), Math.max(1, Math.ceil(groups / 65535))];
}
