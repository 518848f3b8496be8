import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";

/** Maximum batch rank (after merging) a matmul launch handles. */
export const MATMUL_MAX_BATCH_RANK = 4;

/** Spec of a batched matmul C[b] = A[b] @ B[b] (+ bias over N). */
export interface MatmulSpec {
  /** Output rows per invocation (register tile height). */
  tm: number;
  /** Output columns per invocation (register tile width; a multiple of 4). */
  tn: number;
  /** Invocations per workgroup along N. */
  wgx: number;
  /** Invocations per workgroup along M. */
  wgy: number;
  /** Whether a bias vector of length N is added (fused epilogue). */
  bias: boolean;
  /**
   * How A is read: "k4" = vec4 along K (A's K stride is 1; row stride, offsets and batch strides
   * are multiples of 4); "scalar" = one element at a time through strides (any layout).
   */
  aLoad: "k4" | "scalar";
  /**
   * How B is read: "k4" = vec4 along K (B^T stored row-major, as in x @ W^T); "n4" = vec4 along
   * N (row-major B, N % 4 == 0); "scalar" = any layout. Alignment as for A.
   */
  bLoad: "k4" | "n4" | "scalar";
  /**
   * Accumulators in individually named registers (generated code, one loop over K) instead of an
   * array indexed by loop variables; for CPU adapters (see `matmulKernel`). @default false
   */
  named?: boolean;
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
 * Register-tiled matmul. Each invocation computes a tm x tn block of C in registers (tn / 4 vec4
 * accumulators per row); a workgroup is wgx x wgy invocations (lanes along N), covering
 * (wgy*tm) x (wgx*tn) outputs, and the grid is (ceil(N / (wgx*tn)), ceil(M / (wgy*tm)), batch).
 * K advances 4 at a time: an invocation loads tm vec4s of A (rows m, k..k+3) and, per the B
 * layout, tn vec4s along K or 4 * tn/4 vec4s along N, then does 4*tm*tn FMAs; a scalar loop
 * handles the K % 4 tail. Loads past the M/N edges are clamped to the last row/column (never out
 * of bounds) and those outputs are not written. No workgroup memory: on lavapipe loads, not
 * FMAs, are the limit (each load is a per-lane loop), so register tiles in 8-lane workgroups
 * win there, and `spec.named` selects a form whose accumulators are named registers (an array
 * indexed by a loop variable is memory on llvmpipe; that form ran 1024^3 about 3x faster than
 * the array form with 32x32 tiles). Real GPUs get the array form with loops.
 * C is contiguous [batch, M, N].
 */
export function matmulKernel(spec: MatmulSpec): KernelSource {
  return memoKernel(
    `matmulKernel:${JSON.stringify(spec)}`,
    () => spec.named ? buildNamedMatmulKernel(spec) : buildMatmulKernel(spec),
  );
}

/**
 * WGSL for the start of `main`: the workgroup's batch item (wid.z) decoded over the 4 batch dims
 * into the element offsets `aBase` / `bBase` of its A and B matrices.
 */
const BATCH_BASES = `  var rem = wid.z;
  var aBase = u.aOff;
  var bBase = u.bOff;
  for (var d = 3; d >= 0; d--) {
    let c = rem % u.bshape[d];
    rem = rem / u.bshape[d];
    aBase += c * u.aBs[d];
    bBase += c * u.bBs[d];
  }`;

/** Bindings and uniforms shared by both kernel forms. */
function matmulHeader(spec: MatmulSpec): string {
  const aVec = spec.aLoad === "k4";
  const bVec = spec.bLoad !== "scalar";
  return `struct U {
  M: u32, N: u32, K: u32, p0: u32,
  aOff: u32, bOff: u32, cOff: u32, biasOff: u32,
  sAm: u32, sAk: u32, sBk: u32, sBn: u32,
  bshape: vec4<u32>, aBs: vec4<u32>, bBs: vec4<u32>,
};
@group(0) @binding(0) var<storage, read_write> C: array<f32>;
@group(0) @binding(1) var<storage, read> A${aVec ? "4" : ""}: array<${aVec ? "vec4<f32>" : "f32"}>;
@group(0) @binding(2) var<storage, read> B${bVec ? "4" : ""}: array<${bVec ? "vec4<f32>" : "f32"}>;
${spec.bias ? "@group(0) @binding(3) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${spec.bias ? 4 : 3}) var<uniform> u: U;
${
    aVec
      ? `fn loadA1(i: u32) -> f32 { let v = A4[i >> 2u]; return v[i & 3u]; }`
      : `fn loadA1(i: u32) -> f32 { return A[i]; }`
  }
${
    bVec
      ? `fn loadB1(i: u32) -> f32 { let v = B4[i >> 2u]; return v[i & 3u]; }`
      : `fn loadB1(i: u32) -> f32 { return B[i]; }`
  }`;
}

function kernelLabel(spec: MatmulSpec, tm: number, tn: number): string {
  return `matmul[tm${tm},tn${tn},wg${spec.wgx}x${spec.wgy},a:${spec.aLoad},b:${spec.bLoad}${
    spec.bias ? ",bias" : ""
  }${spec.named ? ",named" : ""}]`;
}

/** The kernel source of either matmul form: c, a, b, [bias], uniforms. */
function matmulSource(
  spec: MatmulSpec,
  tm: number,
  tn: number,
  code: string,
  [wgx, wgy]: [number, number],
): KernelSource {
  return {
    label: kernelLabel(spec, tm, tn),
    code,
    bindings: spec.bias
      ? ["write", "read", "read", "read", "uniform"]
      : ["write", "read", "read", "uniform"],
    workgroupSize: [wgx, wgy, 1],
  };
}

/** One line per index. */
function lines(n: number, f: (x: number) => string): string {
  return Array.from({ length: n }, (_, x) => f(x)).join("\n");
}

/** One line per cell of an a x b tile. */
function each(a: number, b: number, f: (x: number, y: number) => string): string {
  const out: string[] = [];
  for (let x = 0; x < a; x++) for (let y = 0; y < b; y++) out.push(f(x, y));
  return out.join("\n");
}

/**
 * The CPU-adapter form. llvmpipe keeps an array indexed by a loop variable in memory, so every
 * accumulator here is a named vec4 register (acc{row}_{quad}, indices fixed when the WGSL is
 * generated) and the only loop of any length runs over K, 4 at a time: per step tm vec4s of A
 * (rows m0.., k..k+3) and, per B layout, 4·tn/4 vec4s along N ("n4", "scalar": 4 rank-1
 * updates) or tn vec4s along K ("k4": dot products), then 4·tm·tn FMAs in straight-line code.
 * A loop of at most 3 steps handles the K % 4 tail. Compile time grows with tm·tn (8x16 and
 * 16x16 compile in about a second on lavapipe), so the op keeps tiles that size. Loop
 * iterations per invocation are about K/4 (llvmpipe's cap is 65,535).
 */
function buildNamedMatmulKernel(spec: MatmulSpec): KernelSource {
  const { wgx, wgy } = spec;
  const tm = Math.max(1, Math.floor(spec.tm));
  const tn = Math.max(4, Math.ceil(spec.tn / 4) * 4);
  const tq = tn / 4;
  const row = (i: number) => `aBase + min(m0 + ${i}u, u.M - 1u) * u.sAm`;
  const loadA = spec.aLoad === "k4"
    ? (i: number) => `      let a${i} = A4[(${row(i)} + k) >> 2u];`
    : (i: number) =>
      `      let ar${i} = ${row(i)} + k * u.sAk;
      let a${i} = vec4<f32>(A[ar${i}], A[ar${i} + u.sAk], A[ar${i} + 2u * u.sAk], A[ar${i} + 3u * u.sAk]);`;
  const col = (j: string) => `min(n0 + ${j}, u.N - 1u)`;
  let bBlock: string;
  if (spec.bLoad === "k4") {
    bBlock = `${
      lines(tn, (j) => `      let b${j} = B4[(bBase + ${col(`${j}u`)} * u.sBn + k) >> 2u];`)
    }
${
      each(tm, tq, (i, q) =>
        `      acc${i}_${q} += vec4<f32>(dot(a${i}, b${4 * q}), dot(a${i}, b${4 * q + 1}), ` +
        `dot(a${i}, b${4 * q + 2}), dot(a${i}, b${4 * q + 3}));`)
    }`;
  } else {
    const loadB = spec.bLoad === "n4"
      ? (kk: number, q: number) =>
        `      let b${kk}_${q} = B4[(bBase + (k + ${kk}u) * u.sBk + min(n0 + ${
          4 * q
        }u, u.N - 4u)) >> 2u];`
      : (kk: number, q: number) =>
        `      let b${kk}_${q} = vec4<f32>(${
          [0, 1, 2, 3].map((c) =>
            `B[bBase + (k + ${kk}u) * u.sBk + ${col(`${4 * q + c}u`)} * u.sBn]`
          )
            .join(", ")
        });`;
    const xyzw = "xyzw";
    bBlock = [0, 1, 2, 3].map((kk) =>
      `${lines(tq, (q) => loadB(kk, q))}
${each(tm, tq, (i, q) => `      acc${i}_${q} += a${i}.${xyzw[kk]} * b${kk}_${q};`)}`
    ).join("\n");
  }
  const code = `
${matmulHeader(spec)}
fn st(base: u32, m: u32, n: u32, v: vec4<f32>) {
  if (m >= u.M) { return; }
  let c = base + m * u.N + n;
  for (var j = 0u; j < 4u; j++) {
    if (n + j < u.N) { C[c + j] = v[j]${spec.bias ? " + bias[u.biasOff + n + j]" : ""}; }
  }
}
@compute @workgroup_size(${wgx}, ${wgy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
${BATCH_BASES}
  let m0 = (wid.y * ${wgy}u + lid.y) * ${tm}u;
  let n0 = (wid.x * ${wgx}u + lid.x) * ${tn}u;
  if (m0 >= u.M || n0 >= u.N) { return; }
${each(tm, tq, (i, q) => `  var acc${i}_${q} = vec4<f32>(0.0);`)}
  let k4 = u.K & ~3u;
  for (var k = 0u; k < k4; k += 4u) {
${lines(tm, loadA)}
${bBlock}
  }
  for (var k = k4; k < u.K; k++) {
    let br = bBase + k * u.sBk;
${lines(tm, (i) => `    let a${i} = loadA1(${row(i)} + k * u.sAk);`)}
${
    lines(tq, (q) =>
      `    let b${q} = vec4<f32>(${
        [0, 1, 2, 3].map((c) =>
          `loadB1(br + ${col(`${4 * q + c}u`)} * u.sBn)`
        ).join(", ")
      });`)
  }
${each(tm, tq, (i, q) => `    acc${i}_${q} += a${i} * b${q};`)}
  }
  let cBase = u.cOff + wid.z * u.M * u.N;
${each(tm, tq, (i, q) => `  st(cBase, m0 + ${i}u, n0 + ${4 * q}u, acc${i}_${q});`)}
}
`;
  return matmulSource(spec, tm, tn, code, [wgx, wgy]);
}

function buildMatmulKernel(spec: MatmulSpec): KernelSource {
  const { wgx, wgy } = spec;
  const tm = Math.max(1, Math.floor(spec.tm));
  const tn = Math.max(4, Math.ceil(spec.tn / 4) * 4);
  const tq = tn / 4;
  const aVec = spec.aLoad === "k4";
  const loadA = aVec
    ? `a[i] = A4[(aBase + min(m0 + i, u.M - 1u) * u.sAm + k) >> 2u];`
    : `let ar = aBase + min(m0 + i, u.M - 1u) * u.sAm + k * u.sAk;
      a[i] = vec4<f32>(A[ar], A[ar + u.sAk], A[ar + 2u * u.sAk], A[ar + 3u * u.sAk]);`;
  let bBlock: string;
  if (spec.bLoad === "k4") {
    // Dot-product form (lavapipe compiled it slowly with big tiles in this array form: 16x16
    // ~1 s, 32x32 ~150 s; CPU adapters now use the named form).
    bBlock = `for (var j = 0u; j < TN; j++) {
      b[j] = B4[(bBase + min(n0 + j, u.N - 1u) * u.sBn + k) >> 2u];
    }
    for (var i = 0u; i < TM; i++) {
      for (var q = 0u; q < TQ; q++) {
        acc[i * TQ + q] += vec4<f32>(dot(a[i], b[4u * q]), dot(a[i], b[4u * q + 1u]),
          dot(a[i], b[4u * q + 2u]), dot(a[i], b[4u * q + 3u]));
      }
    }`;
  } else if (spec.bLoad === "n4") {
    bBlock = `for (var kk = 0u; kk < 4u; kk++) {
      let br = bBase + (k + kk) * u.sBk;
      for (var q = 0u; q < TQ; q++) { bq[q] = B4[(br + min(n0 + 4u * q, u.N - 4u)) >> 2u]; }
      for (var i = 0u; i < TM; i++) {
        let av = a[i][kk];
        for (var q = 0u; q < TQ; q++) { acc[i * TQ + q] += av * bq[q]; }
      }
    }`;
  } else {
    bBlock = `for (var kk = 0u; kk < 4u; kk++) {
      let br = bBase + (k + kk) * u.sBk;
      for (var q = 0u; q < TQ; q++) {
        let c = br + min(n0 + 4u * q, u.N - 1u) * u.sBn;
        let c1 = br + min(n0 + 4u * q + 1u, u.N - 1u) * u.sBn;
        let c2 = br + min(n0 + 4u * q + 2u, u.N - 1u) * u.sBn;
        let c3 = br + min(n0 + 4u * q + 3u, u.N - 1u) * u.sBn;
        bq[q] = vec4<f32>(B[c], B[c1], B[c2], B[c3]);
      }
      for (var i = 0u; i < TM; i++) {
        let av = a[i][kk];
        for (var q = 0u; q < TQ; q++) { acc[i * TQ + q] += av * bq[q]; }
      }
    }`;
  }
  const code = `
const TM = ${tm}u;
const TN = ${tn}u;
const TQ = ${tq}u;
${matmulHeader(spec)}
@compute @workgroup_size(${wgx}, ${wgy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
${BATCH_BASES}
  let m0 = (wid.y * ${wgy}u + lid.y) * TM;
  let n0 = (wid.x * ${wgx}u + lid.x) * TN;
  if (m0 >= u.M || n0 >= u.N) { return; }
  var acc: array<vec4<f32>, ${tm * tq}>;
  var a: array<vec4<f32>, ${tm}>;
  ${spec.bLoad === "k4" ? `var b: array<vec4<f32>, ${tn}>;` : `var bq: array<vec4<f32>, ${tq}>;`}
  let k4 = u.K & ~3u;
  for (var k = 0u; k < k4; k += 4u) {
    for (var i = 0u; i < TM; i++) {
      ${loadA}
    }
    ${bBlock}
  }
  for (var k = k4; k < u.K; k++) {
    for (var i = 0u; i < TM; i++) {
      let av = loadA1(aBase + min(m0 + i, u.M - 1u) * u.sAm + k * u.sAk);
      for (var q = 0u; q < TQ; q++) {
        let br = bBase + k * u.sBk;
        let bv = vec4<f32>(loadB1(br + min(n0 + 4u * q, u.N - 1u) * u.sBn),
          loadB1(br + min(n0 + 4u * q + 1u, u.N - 1u) * u.sBn),
          loadB1(br + min(n0 + 4u * q + 2u, u.N - 1u) * u.sBn),
          loadB1(br + min(n0 + 4u * q + 3u, u.N - 1u) * u.sBn));
        acc[i * TQ + q] += av * bv;
      }
    }
  }
  let cBase = u.cOff + wid.z * u.M * u.N;
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= u.M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j;
      if (n >= u.N) { break; }
      C[cBase + m * u.N + n] = acc[i * TQ + (j >> 2u)][j & 3u]${
    spec.bias ? " + bias[u.biasOff + n]" : ""
  };
    }
  }
}
`;
  return matmulSource(spec, tm, tn, code, [wgx, wgy]);
}

/** Workgroups for a matmul launch. */
export function matmulWorkgroups(
  spec: MatmulSpec,
  m: number,
  n: number,
  batch: number,
): [number, number, number] {
  return [
    Math.ceil(n / (spec.wgx * Math.max(4, Math.ceil(spec.tn / 4) * 4))),
    Math.ceil(m / (spec.wgy * spec.tm)),
    batch,
  ];
}
