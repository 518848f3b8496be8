import type { KernelSource } from "../gpu/kernel_source.ts";

/** Maximum batch rank (after merging) a matmul launch handles. */
export const MATMUL_MAX_BATCH_RANK = 4;

/** Spec of a batched matmul C[b] = A[b] @ B[b] (+ bias over N). */
export interface MatmulSpec {
  /** Output rows per invocation (register tile height). */
  tm: number;
  /** Output columns per invocation (register tile width). */
  tn: number;
  /** Invocations per workgroup along N. */
  wgx: number;
  /** Invocations per workgroup along M. */
  wgy: number;
  /** Whether a bias vector of length N is added (fused epilogue). */
  bias: boolean;
  /**
   * How A and B are loaded: "scalar" reads one element at a time through strides (any layout);
   * "vec4k" needs A and B contiguous along K (stride 1), K % 4 == 0 and 4-aligned offsets and
   * row strides, and reads vec4s along K for both (the layout of x @ W^T in Linear).
   */
  loads: "scalar" | "vec4k";
}

/**
 * Uniforms: M, N, K, then A offset, B offset, C offset, bias offset, then strides of A (m, k)
 * and B (k, n) in elements, then the batch shape and A/B batch strides (rank 4, leading 1s).
 */
export function matmulUniforms(args: {
  m: number;
  n: number;
  k: number;
  aOffset: number;
  bOffset: number;
  cOffset: number;
  biasOffset: number;
  aStrides: readonly [number, number];
  bStrides: readonly [number, number];
  batchShape: readonly number[];
  aBatchStrides: readonly number[];
  bBatchStrides: readonly number[];
}): ArrayBuffer {
  const u = new Uint32Array(28);
  u.set([args.m, args.n, args.k, 0, args.aOffset, args.bOffset, args.cOffset, args.biasOffset]);
  u.set([...args.aStrides, ...args.bStrides], 8);
  const pad = MATMUL_MAX_BATCH_RANK - args.batchShape.length;
  for (let i = 0; i < MATMUL_MAX_BATCH_RANK; i++) {
    const j = i - pad;
    u[12 + i] = j >= 0 ? args.batchShape[j] : 1;
    u[16 + i] = j >= 0 ? args.aBatchStrides[j] : 0;
    u[20 + i] = j >= 0 ? args.bBatchStrides[j] : 0;
  }
  return u.buffer;
}

/**
 * Register-tiled matmul. Each invocation computes a tm x tn block of C in registers; a workgroup
 * is wgx x wgy invocations (lanes along N), so it covers (wgy*tm) x (wgx*tn) outputs, and the grid
 * is (ceil(N / (wgx*tn)), ceil(M / (wgy*tm)), batch). Per K step an invocation loads tm values of
 * A and tn of B (clamped to the last row/column at the edges, so loads never go out of bounds) and
 * does tm*tn FMAs; no workgroup memory: on lavapipe loads, not FMAs, are the limit and workgroup
 * tiling loses. Outputs outside M x N are not written. C is contiguous [batch, M, N]. Loops are
 * left as loops (lavapipe's compile time grows steeply with unrolled code).
 */
export function matmulKernel(spec: MatmulSpec): KernelSource {
  const { tm, tn, wgx, wgy } = spec;
  const vec = spec.loads === "vec4k";
  const elem = vec ? "vec4<f32>" : "f32";
  const kStep = vec ? 4 : 1;
  const loadA = vec
    ? `a[i] = A[(aBase + min(m0 + i, u.M - 1u) * u.sAm + k) >> 2u];`
    : `a[i] = A[aBase + min(m0 + i, u.M - 1u) * u.sAm + k * u.sAk];`;
  const loadB = vec
    ? `b[j] = B[(bBase + min(n0 + j, u.N - 1u) * u.sBn + k) >> 2u];`
    : `b[j] = B[bBase + k * u.sBk + min(n0 + j, u.N - 1u) * u.sBn];`;
  const fma = vec
    ? "acc[i * TN + j] += dot(a[i], b[j]);"
    : "acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);";
  const code = `
const TM = ${tm}u;
const TN = ${tn}u;
struct U {
  M: u32, N: u32, K: u32, p0: u32,
  aOff: u32, bOff: u32, cOff: u32, biasOff: u32,
  sAm: u32, sAk: u32, sBk: u32, sBn: u32,
  bshape: vec4<u32>, aBs: vec4<u32>, bBs: vec4<u32>,
};
@group(0) @binding(0) var<storage, read_write> C: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<${elem}>;
@group(0) @binding(2) var<storage, read> B: array<${elem}>;
${spec.bias ? "@group(0) @binding(3) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${spec.bias ? 4 : 3}) var<uniform> u: U;
@compute @workgroup_size(${wgx}, ${wgy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  var rem = wid.z;
  var aBase = u.aOff;
  var bBase = u.bOff;
  for (var d = 3; d >= 0; d--) {
    let c = rem % u.bshape[d];
    rem = rem / u.bshape[d];
    aBase += c * u.aBs[d];
    bBase += c * u.bBs[d];
  }
  let m0 = (wid.y * ${wgy}u + lid.y) * TM;
  let n0 = (wid.x * ${wgx}u + lid.x) * TN;
  if (m0 >= u.M || n0 >= u.N) { return; }
  var acc: array<f32, ${tm * tn}>;
  var a: array<${elem}, ${tm}>;
  var b: array<${elem}, ${tn}>;
  for (var k = 0u; k < u.K; k += ${kStep}u) {
    for (var i = 0u; i < TM; i++) { ${loadA} }
    for (var j = 0u; j < TN; j++) { ${loadB} }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) { ${fma} }
    }
  }
  let cBase = u.cOff + wid.z * u.M * u.N;
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= u.M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j;
      if (n >= u.N) { break; }
      C[cBase + m * u.N + n] = acc[i * TN + j]${spec.bias ? " + bias[u.biasOff + n]" : ""};
    }
  }
}
`;
  return {
    label: `matmul[tm${tm},tn${tn},wg${wgx}x${wgy},${spec.loads}${spec.bias ? ",bias" : ""}]`,
    code,
    bindings: spec.bias ? ["write", "read", "read", "read", "uniform"] : [
      "write",
      "read",
      "read",
      "uniform",
    ],
    workgroupSize: [wgx, wgy, 1],
  };
}

/** Workgroups for a matmul launch. */
export function matmulWorkgroups(
  spec: MatmulSpec,
  m: number,
  n: number,
  batch: number,
): [number, number, number] {
  return [
    Math.ceil(n / (spec.wgx * spec.tn)),
    Math.ceil(m / (spec.wgy * spec.tm)),
    batch,
  ];
}
