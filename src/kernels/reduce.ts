import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";
import { computeType, type DType, enableF16 } from "./dtype.ts";
import { LANE_WG, type ReduceForm } from "./reduce_form.ts";

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
  /**
   * "workgroup" (default): as `layout` says (real GPUs). "lane" (CPU adapters, see
   * `ReduceForm`): 8-invocation workgroups, grid `laneWorkgroups(items)`; row layout: one output
   * (row, chunk) per invocation, no workgroup memory (items = A * chunks); col layout (needs
   * `vec4`): four neighbouring outputs of one run of R per invocation (items = A * chunks * B / 4;
   * with `chunks` > 1 the output is [A, chunks, B] partial results, reduced again by the caller).
   */
  form?: ReduceForm;
  /**
   * Lane form: x read as vec4 (4-byte dtypes; row layout: R and inOffset multiples of 4, col
   * layout: B, inOffset and outOffset multiples of 4). @default false
   */
  vec4?: boolean;
  /**
   * Lane form, col layout: vec4s of neighbouring columns one invocation owns (named registers;
   * B must be a multiple of 4 colVecs); items = A * chunks * B / (4 colVecs). @default 1
   */
  colVecs?: number;
  /**
   * Arg ops: also write the winning value to binding `vout` (after `out`; compute dtype, same
   * layout as `out`), so partial results over chunks of R are (value, index) pairs that a second
   * launch with `indicesIn` combines. @default false
   */
  valuesOut?: boolean;
  /**
   * Arg ops: x holds partial values and binding `xi` (after `x`, i32, same layout and offset as
   * x) their positions; the result is the position stored beside the winner, not the winner's
   * own index. Partial results must be in index order, so the lowest index still wins ties and
   * the first NaN still wins. @default false
   */
  indicesIn?: boolean;
}

/**
 * Uniforms of a reduction: A, R, B, input offset (elements), output offset, scale (f32), the
 * number of chunks each reduction is split into (partial results, reduced again), and what arg
 * ops add to the positions they write (a launch over a run of R that starts at that position;
 * not with `indicesIn`).
 */
export function reduceUniforms(
  a: number,
  r: number,
  b: number,
  inOffset: number,
  outOffset: number,
  scale: number,
  chunks = 1,
  indexOffset = 0,
): ArrayBuffer {
  const buf = new ArrayBuffer(32);
  const u = new Uint32Array(buf);
  u.set([a, r, b, inOffset, outOffset]);
  new Float32Array(buf)[5] = scale;
  u[6] = chunks;
  u[7] = indexOffset;
  return buf;
}

/**
 * Sum/max/min/argmax/argmin over R of x[A, R, B] (contiguous from `inOffset`), times `scale` for
 * sums (mean = sum with scale 1/R). Output is [A, B] contiguous. Row layout dispatches one
 * workgroup per (row, chunk): with `chunks` > 1 each row is cut into that many ranges and the
 * output is [A, chunks] partial results (the caller reduces them again; arg ops through
 * `valuesOut`/`indicesIn` pairs), so a long row keeps many workgroups busy and no loop passes
 * llvmpipe's 65,535-iteration cap. Col layout: one thread per output (a, chunk, b) in a 1-D grid
 * of 64-thread workgroups (2-D when above 65535 workgroups); with `chunks` > 1 the output is
 * [A, chunks, B] partial results.
 */
export function reduceKernel(spec: ReduceSpec): KernelSource {
  return memoKernel(`reduceKernel:${JSON.stringify(spec)}`, () => buildReduceKernel(spec));
}

// Start values of f32 max/min: the infinities (a row of -inf has max -inf, like PyTorch; WGSL
// has no infinite literal).
const NEG_INF = "bitcast<f32>(0xff800000u)";
const POS_INF = "bitcast<f32>(0x7f800000u)";

/**
 * WGSL `nan_` (scalar) and `nan4_` (vec4) of the compute type: NaN tests on the bits, since WGSL
 * lets compilers assume floats are never NaN (llvmpipe folds "v != v" to false).
 */
function nanHelpers(ct: "f32" | "i32" | "u32"): string {
  return ct === "f32"
    ? `fn nan_(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn nan4_(v: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}`
    : `fn nan_(v: ${ct}) -> bool { return false; }
fn nan4_(v: vec4<${ct}>) -> vec4<bool> { return vec4<bool>(false); }`;
}

function buildReduceKernel(spec: ReduceSpec): KernelSource {
  if (spec.form === "lane") return buildLaneKernel(spec);
  const ct = computeType(spec.dtype);
  const isArg = spec.op === "argmax" || spec.op === "argmin";
  const init = spec.op === "sum"
    ? `${ct}(0)`
    : spec.op === "max" || spec.op === "argmax"
    ? (ct === "f32" ? NEG_INF : ct === "i32" ? "-2147483647 - 1" : "0u")
    : (ct === "f32" ? POS_INF : ct === "i32" ? "2147483647" : "4294967295u");
  const better = spec.op === "max" || spec.op === "argmax" ? ">" : "<";
  // combine (v, i) into (acc, ai); NaN propagates for max/min like PyTorch.
  const combine = spec.op === "sum"
    ? "acc = acc + v;"
    : isArg
    ? `if (v ${better} acc || (nan_(v) && !nan_(acc))) { acc = v; ai = i; }`
    : `if (v ${better} acc || nan_(v)) { acc = v; }`;
  // The winner's position: its index, or with `indicesIn` the position stored beside it (`at`:
  // the winner's element address in x).
  const finish = (at: string) =>
    spec.op === "sum"
      ? `${spec.outDtype}(acc * ${ct}(u.scale))`
      : isArg
      ? spec.indicesIn ? `xi[${at}]` : "i32(ai + u.iOff)"
      : `${spec.outDtype}(acc)`;
  const head = `${enableF16([spec.dtype, spec.outDtype])}
${UNIFORMS}
${bindingDecls(spec, spec.outDtype, spec.dtype, ct)}
${nanHelpers(ct)}
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
        ? `if (v ${better} acc || (v == acc && i < ai) || (nan_(v) && (!nan_(acc) || i < ai))) { acc = v; ai = i; }`
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
    out[u.outOff + w] = ${finish("base + ai")};${
      spec.valuesOut ? "\n    vout[u.outOff + w] = acc;" : ""
    }
  }
}
`;
  } else {
    code = `${head}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.x + gid.y * 65535u * 64u;
  if (o >= u.A * u.chunks * u.B) { return; }
  let t = o / u.B;
  let a = t / u.chunks;
  let b = o % u.B;
  let len = (u.R + u.chunks - 1u) / u.chunks;
  let lo = min((t % u.chunks) * len, u.R);
  let hi = min(lo + len, u.R);
  let base = u.inOff + a * u.R * u.B + b;
  var acc = ${init};
  var ai = 0u;
  for (var i = lo; i < hi; i++) {
    let v = ${ct}(x[base + i * u.B]);
    ${combine}
  }
  out[u.outOff + o] = ${finish("base + ai * u.B")};${
      spec.valuesOut ? "\n  vout[u.outOff + o] = acc;" : ""
    }
}
`;
  }
  return {
    label: `reduce[${spec.op},${spec.dtype}->${spec.outDtype},${spec.layout}${pairTag(spec)}]`,
    code,
    bindings: bindingKinds(spec),
    workgroupSize: [64, 1, 1],
  };
}

const UNIFORMS =
  "struct U { A: u32, R: u32, B: u32, inOff: u32, outOff: u32, scale: f32, chunks: u32, iOff: u32 };";

/** Binding declarations: out, [vout], x, [xi], u (element types O and X, values V). */
function bindingDecls(spec: ReduceSpec, o: string, x: string, v: string): string {
  const lines = [`var<storage, read_write> out: array<${o}>;`];
  if (spec.valuesOut) lines.push(`var<storage, read_write> vout: array<${v}>;`);
  lines.push(`var<storage, read> x: array<${x}>;`);
  if (spec.indicesIn) lines.push("var<storage, read> xi: array<i32>;");
  lines.push("var<uniform> u: U;");
  return lines.map((l, i) => `@group(0) @binding(${i}) ${l}`).join("\n");
}

function bindingKinds(spec: ReduceSpec): ("write" | "read" | "uniform")[] {
  return [
    "write",
    ...(spec.valuesOut ? ["write" as const] : []),
    "read",
    ...(spec.indicesIn ? ["read" as const] : []),
    "uniform",
  ];
}

function pairTag(spec: ReduceSpec): string {
  return `${spec.valuesOut ? ",vout" : ""}${spec.indicesIn ? ",xi" : ""}`;
}

/**
 * Lane form. Row layout: each invocation reduces its range of one row into (vec4) registers,
 * every component in index order, then combines the four components (arg ops: the lowest index
 * wins ties, and the first NaN wins, like PyTorch). Col layout: each invocation walks R for four
 * neighbouring columns (over its chunk of R) with one vec4 load per step and writes them as one
 * vec4.
 */
function buildLaneKernel(spec: ReduceSpec): KernelSource {
  const ct = computeType(spec.dtype);
  const v4 = !!spec.vec4;
  const row = spec.layout === "row";
  if (!row && !v4) throw new RangeError("reduceKernel: the lane form of the col layout is vec4");
  const isArg = spec.op === "argmax" || spec.op === "argmin";
  const V = v4 ? `vec4<${ct}>` : ct;
  const X = v4 ? `vec4<${spec.dtype}>` : spec.dtype;
  const O = !row ? `vec4<${spec.outDtype}>` : spec.outDtype;
  const U = v4 ? "vec4<u32>" : "u32";
  const init = spec.op === "sum"
    ? "0"
    : spec.op === "max" || spec.op === "argmax"
    ? (ct === "f32" ? NEG_INF : ct === "i32" ? "-2147483647 - 1" : "0u")
    : (ct === "f32" ? POS_INF : ct === "i32" ? "2147483647" : "4294967295u");
  const better = spec.op === "max" || spec.op === "argmax" ? ">" : "<";
  const nan = (e: string) => v4 ? `nan4_(${e})` : `nan_(${e})`;
  // Componentwise running update with v and its index vi (NaN: max/min propagate it, arg ops
  // keep the first one).
  const update = spec.op === "sum"
    ? "acc += v;"
    : isArg
    ? `let up = (v ${better} acc) | (${nan("v")} & !${nan("acc")});
    acc = select(acc, v, up);
    ai = select(ai, vi, up);`
    : `acc = select(acc, v, (v ${better} acc) | ${nan("v")});`;
  // Combine the components of a vec4 accumulator (row layout) into scalars s, si.
  const comps = ["y", "z", "w"];
  const fold = !v4 || !row
    ? "let s = acc;\n  let si = ai;"
    : spec.op === "sum"
    ? "let s = (acc.x + acc.y) + (acc.z + acc.w);\n  let si = 0u;"
    : `var s = acc.x;
  var si = ai.x;
  ${
      comps.map((c) =>
        isArg
          ? `if ((nan_(acc.${c}) && (!nan_(s) || ai.${c} < si)) || ` +
            `(acc.${c} ${better} s || (acc.${c} == s && ai.${c} < si))) ` +
            `{ s = acc.${c}; si = ai.${c}; }`
          : `if (acc.${c} ${better} s || nan_(acc.${c})) { s = acc.${c}; }`
      ).join("\n  ")
    }`;
  // `at(k)`: the element address in x of the winner of component k (`indicesIn`).
  const finish = (at: (k: string) => string) =>
    spec.op === "sum"
      ? `${O}(s * ${ct}(u.scale))`
      : isArg && spec.indicesIn
      ? (row
        ? `xi[${at("")}]`
        : `${O}(${["x", "y", "z", "w"].map((k) => `xi[${at(k)}]`).join(", ")})`)
      : isArg
      ? `${O}(si + ${row ? "u.iOff" : "vec4<u32>(u.iOff)"})`
      : `${O}(s)`;
  const vout = (i: string) => spec.valuesOut ? `\n  vout[${i}] = s;` : "";
  const lane = `(wid.x + wid.y * 65535u) * ${LANE_WG}u + lid`;
  // Col layout: G vec4s of columns per invocation, accumulators acc0.., ai0.. (named registers).
  const G = row ? 1 : spec.colVecs ?? 1;
  const gs = Array.from({ length: G }, (_, j) => j);
  const named = (src: string, j: number) =>
    src.replace(/\bacc\b/g, `acc${j}`).replace(/\bai\b/g, `ai${j}`);
  const body = row
    ? `
  let w = ${lane};
  if (w >= u.A * u.chunks) { return; }
  let a = w / u.chunks;
  let len = ${
      v4 ? "((u.R + u.chunks - 1u) / u.chunks + 3u) / 4u * 4u" : "(u.R + u.chunks - 1u) / u.chunks"
    };
  let lo = min((w % u.chunks) * len, u.R);
  let hi = min(lo + len, u.R);
  let base = ${v4 ? "(u.inOff + a * u.R) / 4u" : "u.inOff + a * u.R"};
  var acc = ${V}(${init});
  var ai = ${U}(0u);
  for (var i = lo${v4 ? " / 4u" : ""}; i < hi${v4 ? " / 4u" : ""}; i++) {
    let v = ${V}(x[base + i]);
    let vi = ${v4 ? "vec4<u32>(i * 4u) + vec4<u32>(0u, 1u, 2u, 3u)" : "i"};
    ${update}
  }
  ${fold}
  out[u.outOff + w] = ${finish(() => v4 ? "base * 4u + si" : "base + si")};${vout("u.outOff + w")}`
    : `
  let o = ${lane};
  let b4 = u.B / 4u;
  let bg = b4 / ${G}u;
  if (o >= u.A * u.chunks * bg) { return; }
  let t = o / bg;
  let a = t / u.chunks;
  let len = (u.R + u.chunks - 1u) / u.chunks;
  let lo = min((t % u.chunks) * len, u.R);
  let hi = min(lo + len, u.R);
  let col = (o % bg) * ${G}u;
  let base = u.inOff / 4u + a * u.R * b4 + col;
  ${gs.map((j) => `var acc${j} = ${V}(${init});\n  var ai${j} = ${U}(0u);`).join("\n  ")}
  for (var i = lo; i < hi; i++) {
    let vi = vec4<u32>(i);
    ${
      gs.map((j) =>
        `{\n      let v = ${V}(x[base + i * b4 + ${j}u]);\n      ${named(update, j)}\n    }`
      ).join("\n    ")
    }
  }
  ${
      gs.map((j) =>
        `{\n    ${named(fold, j)}\n    out[u.outOff / 4u + t * b4 + col + ${j}u] = ${
          finish((k) => `(base + si.${k} * b4 + ${j}u) * 4u + ${"xyzw".indexOf(k)}u`)
        };${vout(`u.outOff / 4u + t * b4 + col + ${j}u`)}\n  }`
      ).join("\n  ")
    }`;
  const code = `${enableF16([spec.dtype, spec.outDtype])}
${UNIFORMS}
${bindingDecls(spec, O, X, row ? ct : `vec4<${ct}>`)}
${nanHelpers(ct)}
@compute @workgroup_size(${LANE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${body}
}
`;
  return {
    label: `reduce[${spec.op},${spec.dtype}->${spec.outDtype},${spec.layout},lane${
      v4 ? ",vec4" : ""
    }${G > 1 ? `,cols${G}` : ""}${pairTag(spec)}]`,
    code,
    bindings: bindingKinds(spec),
    workgroupSize: [LANE_WG, 1, 1],
  };
}

/** Workgroups for a reduction launch. */
export function reduceWorkgroups(layout: "row" | "col", a: number, b: number): [number, number] {
  const groups = layout === "row" ? a : Math.ceil((a * b) / 64);
  return [Math.max(1, Math.min(groups, 65535)), Math.max(1, Math.ceil(groups / 65535))];
}
