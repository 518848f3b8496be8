/**
 * Flash-style scaled-dot-product attention kernels (forward, dQ backward, dK/dV backward).
 *
 * Layout: q [BH, Lq, d], k [BH, Lk, d], v [BH, Lk, dv], out [BH, Lq, dv], all row-major f32;
 * ml [BH, Lq, 2] = (row max m, row sum l) of the softmax, saved by the forward; the backward
 * uses logsumexp = m + log l. Optional additive mask [Lq, Lk] (broadcast over BH,
 * `maskStride` 0) or [BH, Lq, Lk] (`maskStride` Lq·Lk). Optional dropout on the probabilities:
 * keep (i, j) of head bh when `dropoutKeep(seed, bh, i, j) >= threshold` (a counter-based PCG
 * hash), kept values scaled by 1/(1-p); the backward recomputes the same decision, so no mask
 * is stored.
 *
 * Tiling (all three kernels): a workgroup is `wg` invocations along x; each invocation owns
 * `rows` consecutive rows (queries for forward and dQ, keys for dK/dV) whose tiles (q row,
 * accumulator, ...) live in workgroup memory (`tiles: "workgroup"`, lavapipe: dynamically
 * indexed private arrays compile for minutes there) or private arrays (`"private"`, GPUs). It
 * streams the other side one row at a time and loads each k/v (q/dO) vector once for all its
 * rows. The score matrix never exists: the forward keeps an online softmax (running m and l per
 * row, rescaling the accumulator once per block of `block` keys); the backward recomputes
 * p = exp(s - lse). Workgroup (x, y) covers rows [x·wg·rows, (x+1)·wg·rows) of head
 * y + 65535·z; rows past the end are clamped for loads and not stored. Vectors are vec4 when d
 * and dv are multiples of 4, scalars otherwise.
 *
 * Chunks: the streamed range is [start, end) from the uniforms; with `first` false a kernel
 * resumes from the state the previous chunk left in its outputs (unnormalised out and ml; dq;
 * dk and dv), and only the `last` forward chunk normalises. The host splits the stream
 * (`attentionChunks`) so each invocation stays under lavapipe's 65535 loop iterations.
 */
import type { KernelSource } from "../gpu/kernel_source.ts";

/** What an attention kernel is specialised on. */
export interface AttentionSpec {
  /** Head dimension of q and k. */
  d: number;
  /** Head dimension of v and the output. @default d */
  dv?: number;
  /** Rows per invocation (register tile). @default chosen from d */
  rows?: number;
  /** Invocations per workgroup. @default 8 */
  wg?: number;
  /** Keys per online-softmax block (forward only). @default 8 */
  block?: number;
  /** Whether an additive mask buffer is bound. @default false */
  mask?: boolean;
  /** Whether dropout is applied. @default false */
  dropout?: boolean;
  /** Loop bounds as constants (unrollable) or uniforms. @default "dynamic" */
  loops?: "static" | "dynamic";
  /** Where the per-invocation row tiles live. @default "workgroup" */
  tiles?: "private" | "workgroup";
  /** Workgroup memory the tiles may use; rows shrink to fit. @default 32768 */
  maxWorkgroupBytes?: number;
}

/** Uniform block shared by the three kernels (8 words; see `attentionUniforms`). */
export interface AttentionUniforms {
  lq: number;
  lk: number;
  bh: number;
  maskStride: number;
  scale: number;
  /** 1/(1-p), or 1 without dropout. */
  keepScale: number;
  seed: number;
  /** floor(p·2³²) clamped to u32: a draw below it is dropped. */
  threshold: number;
  /** First key (query for dK/dV) of this dispatch's chunk. @default 0 */
  start?: number;
  /** End of the chunk. @default all keys (queries for dK/dV) */
  end?: number;
  /** This is the first chunk (state starts fresh, not loaded). @default true */
  first?: boolean;
  /** This is the last chunk (the forward normalises its output). @default true */
  last?: boolean;
}

/** A generated attention kernel plus the tiling facts the host needs for uniforms and dispatch. */
export interface AttentionKernel extends KernelSource {
  /** Rows each invocation owns (after fitting the tiles into workgroup memory). */
  rows: number;
  /** Vector elements per q/k row and per v/out row. */
  vq: number;
  vv: number;
  /** Invocations per workgroup. */
  wg: number;
  /** Which kernel: the forward, dQ or dK/dV. */
  kind: "fwd" | "q" | "kv";
  /**
   * Upper bound of loop iterations per invocation for each key (query for dK/dV) streamed,
   * and for the fixed part; `attentionChunks` splits the stream so that lavapipe's limit of
   * 65535 loop iterations per invocation (LP_MAX_TGSI_LOOP_ITERATIONS, shared by every loop
   * of a shader: past it loops silently stop) is never reached.
   */
  loopsPerStep: number;
  loopsFixed: number;
}

/**
 * Loop iterations per invocation that one dispatch may plan for on lavapipe: its hard limit is
 * 65535, but our per-step estimates (`loopsPerStep`) came out up to ~2x low against measured
 * failures (600x700 keys, d 64: wrong at a 60000 budget, right at 30000), hence 3x margin.
 */
export const LAVAPIPE_LOOP_BUDGET = 20000;

/**
 * Chunks [start, end) of the streamed dimension (n keys, or queries for dK/dV) so that one
 * dispatch stays within `budget` loop iterations per invocation (Infinity: one chunk, for
 * real GPUs).
 */
export function attentionChunks(
  kernel: AttentionKernel,
  n: number,
  budget: number,
): [number, number][] {
  const per = Math.max(1, Math.floor((budget - kernel.loopsFixed) / kernel.loopsPerStep));
  if (!Number.isFinite(budget) || n <= per) return [[0, n]];
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += per) out.push([s, Math.min(n, s + per)]);
  return out;
}

/** Packs `AttentionUniforms` in the WGSL struct's order (plus the kernel's loop bounds). */
export function attentionUniforms(kernel: AttentionKernel, u: AttentionUniforms): ArrayBuffer {
  const b = new ArrayBuffer(64);
  const w = new Uint32Array(b), f = new Float32Array(b);
  w[0] = u.lq;
  w[1] = u.lk;
  w[2] = u.bh;
  w[3] = u.maskStride;
  f[4] = u.scale;
  f[5] = u.keepScale;
  w[6] = u.seed >>> 0;
  w[7] = u.threshold >>> 0;
  w[8] = kernel.rows;
  w[9] = kernel.vq;
  w[10] = kernel.vv;
  w[11] = u.first === false ? 0 : 1;
  w[12] = u.start ?? 0;
  w[13] = u.end ?? (kernel.kind === "kv" ? u.lq : u.lk);
  w[14] = u.last === false ? 0 : 1;
  return b;
}

/** Resolved spec: every default filled in and clamped to a legal value. */
export function resolveAttentionSpec(s: AttentionSpec): Required<AttentionSpec> {
  const d = Math.max(1, Math.floor(s.d)), dv = Math.max(1, Math.floor(s.dv ?? d));
  const width = Math.max(d, dv);
  const rows = s.rows ?? Math.max(1, Math.min(8, Math.floor(512 / width)));
  return {
    d,
    dv,
    rows: Math.max(1, Math.min(16, Math.floor(rows))),
    wg: Math.max(1, Math.min(256, Math.floor(s.wg ?? 8))),
    block: Math.max(1, Math.min(32, Math.floor(s.block ?? 8))),
    mask: s.mask ?? false,
    dropout: s.dropout ?? false,
    loops: s.loops ?? "dynamic",
    tiles: s.tiles ?? "workgroup",
    maxWorkgroupBytes: s.maxWorkgroupBytes ?? 32768,
  };
}

/** Workgroup counts for `n` rows per head (queries, or keys for dK/dV) over `bh` heads. */
export function attentionWorkgroups(
  kernel: AttentionKernel,
  n: number,
  bh: number,
): [number, number, number] {
  return [Math.ceil(n / (kernel.wg * kernel.rows)), Math.min(bh, 65535), Math.ceil(bh / 65535)];
}

/**
 * Fits the tiles (`floatsPerRow` floats per row) into `maxWorkgroupBytes`: rows shrink first,
 * then the workgroup narrows (down to one invocation) when even one row per invocation is too
 * much (head dim 256 backward). Updates `r.rows` and `r.wg`.
 */
function fitTiles(r: Required<AttentionSpec>, floatsPerRow: number): void {
  if (r.tiles === "private") return;
  while (r.wg > 1 && 4 * floatsPerRow * r.wg > r.maxWorkgroupBytes) r.wg = Math.ceil(r.wg / 2);
  const fit = Math.floor(r.maxWorkgroupBytes / (4 * floatsPerRow * r.wg));
  if (fit < 1) {
    throw new RangeError(
      `Attention tiles of ${floatsPerRow} floats per row do not fit ${r.maxWorkgroupBytes} ` +
        `bytes of workgroup memory: use tiles "private"`,
    );
  }
  r.rows = Math.min(r.rows, fit);
}

function vecOf(r: Required<AttentionSpec>) {
  const vec = r.d % 4 === 0 && r.dv % 4 === 0;
  const w = vec ? 4 : 1;
  return {
    V: vec ? "vec4<f32>" : "f32",
    DQ: r.d / w,
    DV: r.dv / w,
    dotv: vec ? "dot(a, b)" : "a * b",
  };
}

/** WGSL shared by the three kernels: uniforms, head index, dot and the dropout hash. */
function common(r: Required<AttentionSpec>): string {
  const { V, dotv } = vecOf(r);
  return `
struct U {
  lq: u32, lk: u32, bh: u32, maskStride: u32, scale: f32, keepScale: f32, seed: u32, thresh: u32,
  rows: u32, dq: u32, dv: u32, first: u32, start: u32, end: u32, last: u32, pad: u32,
}
alias V = ${V};
fn dotv(a: V, b: V) -> f32 { return ${dotv}; }
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
// Counter-based keep decision for probability (bh, i, j); recomputed identically in backward.
fn keep(bh: u32, i: u32, j: u32) -> f32 {
  let h = pcg(pcg(pcg(u.seed ^ pcg(bh)) ^ i) ^ j);
  return select(0.0, u.keepScale, h >= u.thresh);
}
`;
}

/**
 * Moves the function-scope tile arrays of \`code\` to workgroup memory, one slice per invocation
 * (lavapipe lowers dynamically indexed private arrays slowly; workgroup arrays are plain memory).
 */
function placeTiles(code: string, r: Required<AttentionSpec>): string {
  if (r.tiles === "private") return code;
  const decls: string[] = [];
  const re = /^ {2}var (\w+): array<(\w+(?:<f32>)?), (\d+)>;\n/gm;
  const found = [...code.matchAll(re)];
  for (const [line, name, type, n] of found) {
    code = code.replace(line, "");
    decls.push(`var<workgroup> ${name}: array<${type}, ${r.wg * Number(n)}>;`);
    code = code.replace(new RegExp(`\\b${name}\\[`, "g"), `${name}[lid.x * ${n}u + `);
  }
  return code.replace("@compute", `${decls.join("\n")}\n@compute`);
}

function label(name: string, r: Required<AttentionSpec>): string {
  return `${name}(d=${r.d},dv=${r.dv},rows=${r.rows},wg=${r.wg},block=${r.block},` +
    `mask=${r.mask},dropout=${r.dropout},loops=${r.loops},tiles=${r.tiles})`;
}

/**
 * Forward. Bindings: q, k, v, [mask], out, lse, uniforms. Each invocation keeps `rows` query
 * rows and their accumulators; per block of `block` keys it forms the scores, rescales once by
 * exp(m_old - m_new), then adds p·v_j (p scaled by the dropout keep factor, which l ignores).
 */
export function attentionForwardKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionForwardKernel", spec, buildAttentionForwardKernel);
}

function buildAttentionForwardKernel(spec: AttentionSpec): AttentionKernel {
  const r = resolveAttentionSpec(spec);
  const { DQ, DV } = vecOf(r);
  const B = r.block;
  fitTiles(r, r.d + r.dv + B + 2);
  const R = r.rows;
  const mb = r.mask ? 1 : 0;
  let code = `${common(r)}
@group(0) @binding(0) var<storage, read> q: array<V>;
@group(0) @binding(1) var<storage, read> k: array<V>;
@group(0) @binding(2) var<storage, read> v: array<V>;
${r.mask ? "@group(0) @binding(3) var<storage, read> mask: array<f32>;" : ""}
@group(0) @binding(${3 + mb}) var<storage, read_write> out: array<V>;
@group(0) @binding(${4 + mb}) var<storage, read_write> ml: array<f32>;
@group(0) @binding(${5 + mb}) var<uniform> u: U;

@compute @workgroup_size(${r.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bh = wid.y + wid.z * 65535u;
  if (bh >= u.bh) { return; }
  // Loop bounds from the uniforms stop LLVM (lavapipe) from unrolling: compile time.
  let NR = ${r.loops === "static" ? `${r.rows}u` : "u.rows"};
  let NQ = ${r.loops === "static" ? `${DQ}u` : "u.dq"};
  let NV = ${r.loops === "static" ? `${DV}u` : "u.dv"};
  let row0 = (wid.x * ${r.wg}u + lid.x) * ${R}u;
  var qr: array<V, ${R * DQ}>;
  var acc: array<V, ${R * DV}>;
  var m: array<f32, ${R}>;
  var l: array<f32, ${R}>;
  var s: array<f32, ${R * B}>;
  for (var r = 0u; r < NR; r++) {
    let i = min(row0 + r, u.lq - 1u);
    let rb = bh * u.lq + i;
    for (var c = 0u; c < NQ; c++) { qr[r * ${DQ}u + c] = q[rb * ${DQ}u + c]; }
    if (u.first == 1u) {
      for (var c = 0u; c < NV; c++) { acc[r * ${DV}u + c] = V(0.0); }
      m[r] = -3.0e38;
      l[r] = 0.0;
    } else {
      // Running state of the previous key chunk: unnormalised output, max and sum.
      for (var c = 0u; c < NV; c++) { acc[r * ${DV}u + c] = out[rb * ${DV}u + c]; }
      m[r] = ml[rb * 2u];
      l[r] = ml[rb * 2u + 1u];
    }
  }
  for (var j0 = u.start; j0 < u.end; j0 += ${B}u) {
    let nb = min(${B}u, u.end - j0);
    for (var jj = 0u; jj < nb; jj++) {
      let kb = (bh * u.lk + j0 + jj) * ${DQ}u;
      for (var r = 0u; r < NR; r++) { s[r * ${B}u + jj] = 0.0; }
      // Each k vector is loaded once and used for every row (loads are the cost on lavapipe).
      for (var c = 0u; c < NQ; c++) {
        let kv = k[kb + c];
        for (var r = 0u; r < NR; r++) { s[r * ${B}u + jj] += dotv(qr[r * ${DQ}u + c], kv); }
      }
      for (var r = 0u; r < NR; r++) {
        var a = s[r * ${B}u + jj] * u.scale;${
    r.mask
      ? `
        let i = min(row0 + r, u.lq - 1u);
        a += mask[bh * u.maskStride + i * u.lk + j0 + jj];`
      : ""
  }
        s[r * ${B}u + jj] = a;
      }
    }
    for (var r = 0u; r < NR; r++) {
      var mx = m[r];
      for (var jj = 0u; jj < nb; jj++) { mx = max(mx, s[r * ${B}u + jj]); }
      let corr = exp(m[r] - mx);
      var sum = 0.0;
      for (var jj = 0u; jj < nb; jj++) {
        let p = exp(s[r * ${B}u + jj] - mx);
        sum += p;
        s[r * ${B}u + jj] = p;
      }
      l[r] = l[r] * corr + sum;
      m[r] = mx;
      for (var c = 0u; c < NV; c++) { acc[r * ${DV}u + c] *= corr; }
    }
    for (var jj = 0u; jj < nb; jj++) {
      let vb = (bh * u.lk + j0 + jj) * ${DV}u;
      for (var c = 0u; c < NV; c++) {
        let vv = v[vb + c];
        for (var r = 0u; r < NR; r++) {
          ${
    r.dropout
      ? `let p = s[r * ${B}u + jj] * keep(bh, row0 + r, j0 + jj);`
      : `let p = s[r * ${B}u + jj];`
  }
          acc[r * ${DV}u + c] += p * vv;
        }
      }
    }
  }
  for (var r = 0u; r < NR; r++) {
    let i = row0 + r;
    if (i >= u.lq) { break; }
    var inv = 1.0;
    if (u.last == 1u) { inv = select(0.0, 1.0 / l[r], l[r] > 0.0); }
    for (var c = 0u; c < NV; c++) { out[(bh * u.lq + i) * ${DV}u + c] = acc[r * ${DV}u + c] * inv; }
    ml[(bh * u.lq + i) * 2u] = m[r];
    ml[(bh * u.lq + i) * 2u + 1u] = l[r];
  }
}
`;
  code = placeTiles(code, r);
  return {
    label: label("attention_fwd", r),
    code,
    bindings: [
      "read",
      "read",
      "read",
      ...(r.mask ? ["read" as const] : []),
      "write",
      "write",
      "uniform",
    ],
    workgroupSize: [r.wg, 1, 1],
    rows: R,
    kind: "fwd",
    loopsPerStep: 3 + 2 * R + (DQ + DV) * (1 + R) + Math.ceil((R * (2 * B + DV + 1)) / B),
    loopsFixed: 2 * R * (DQ + DV + 2) + 16,
    vq: DQ,
    vv: DV,
    wg: r.wg,
  };
}

/**
 * Backward for dQ, also writing delta_i = dO_i·O_i (needed by the dK/dV kernel). Bindings: q, k,
 * v, [mask], out, dout, lse, dq, delta, uniforms. Per key j: p = exp(s - lse_i),
 * dS = p·(z·dO_i·v_j - delta_i), dq_i += scale·dS·k_j, where z is the dropout keep factor.
 */
export function attentionBackwardQKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionBackwardQKernel", spec, buildAttentionBackwardQKernel);
}

function buildAttentionBackwardQKernel(spec: AttentionSpec): AttentionKernel {
  const r = resolveAttentionSpec(spec);
  const { DQ, DV } = vecOf(r);
  fitTiles(r, 2 * r.d + r.dv + 4);
  const R = r.rows;
  const mb = r.mask ? 1 : 0;
  let code = `${common(r)}
@group(0) @binding(0) var<storage, read> q: array<V>;
@group(0) @binding(1) var<storage, read> k: array<V>;
@group(0) @binding(2) var<storage, read> v: array<V>;
${r.mask ? "@group(0) @binding(3) var<storage, read> mask: array<f32>;" : ""}
@group(0) @binding(${3 + mb}) var<storage, read> o: array<V>;
@group(0) @binding(${4 + mb}) var<storage, read> dout: array<V>;
@group(0) @binding(${5 + mb}) var<storage, read> ml: array<f32>;
@group(0) @binding(${6 + mb}) var<storage, read_write> dq: array<V>;
@group(0) @binding(${7 + mb}) var<storage, read_write> delta: array<f32>;
@group(0) @binding(${8 + mb}) var<uniform> u: U;

@compute @workgroup_size(${r.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bh = wid.y + wid.z * 65535u;
  if (bh >= u.bh) { return; }
  // Loop bounds from the uniforms stop LLVM (lavapipe) from unrolling: compile time.
  let NR = ${r.loops === "static" ? `${r.rows}u` : "u.rows"};
  let NQ = ${r.loops === "static" ? `${DQ}u` : "u.dq"};
  let NV = ${r.loops === "static" ? `${DV}u` : "u.dv"};
  let row0 = (wid.x * ${r.wg}u + lid.x) * ${R}u;
  var qr: array<V, ${R * DQ}>;
  var gr: array<V, ${R * DV}>;
  var acc: array<V, ${R * DQ}>;
  var ls: array<f32, ${R}>;
  var dl: array<f32, ${R}>;
  var sa: array<f32, ${R}>;
  var sb: array<f32, ${R}>;
  for (var r = 0u; r < NR; r++) {
    let i = min(row0 + r, u.lq - 1u);
    let rb = bh * u.lq + i;
    for (var c = 0u; c < NQ; c++) {
      qr[r * ${DQ}u + c] = q[rb * ${DQ}u + c];
      acc[r * ${DQ}u + c] = select(dq[rb * ${DQ}u + c], V(0.0), u.first == 1u);
    }
    var dd = 0.0;
    for (var c = 0u; c < NV; c++) {
      let g = dout[rb * ${DV}u + c];
      gr[r * ${DV}u + c] = g;
      dd += dotv(g, o[rb * ${DV}u + c]);
    }
    dl[r] = dd;
    ls[r] = ml[rb * 2u] + log(ml[rb * 2u + 1u]);
  }
  for (var j = u.start; j < u.end; j++) {
    let kb = (bh * u.lk + j) * ${DQ}u;
    let vb = (bh * u.lk + j) * ${DV}u;
    for (var r = 0u; r < NR; r++) { sa[r] = 0.0; sb[r] = 0.0; }
    // k and v vectors are loaded once per key and used for every row.
    for (var c = 0u; c < NQ; c++) {
      let kv = k[kb + c];
      for (var r = 0u; r < NR; r++) { sa[r] += dotv(qr[r * ${DQ}u + c], kv); }
    }
    for (var c = 0u; c < NV; c++) {
      let vv = v[vb + c];
      for (var r = 0u; r < NR; r++) { sb[r] += dotv(gr[r * ${DV}u + c], vv); }
    }
    for (var r = 0u; r < NR; r++) {
      var a = sa[r] * u.scale;${
    r.mask
      ? `
      a += mask[bh * u.maskStride + min(row0 + r, u.lq - 1u) * u.lk + j];`
      : ""
  }
      let p = exp(a - ls[r]);
      var dp = sb[r];
      ${r.dropout ? "dp *= keep(bh, row0 + r, j);" : ""}
      sa[r] = p * (dp - dl[r]) * u.scale;
    }
    for (var c = 0u; c < NQ; c++) {
      let kv = k[kb + c];
      for (var r = 0u; r < NR; r++) { acc[r * ${DQ}u + c] += sa[r] * kv; }
    }
  }
  for (var r = 0u; r < NR; r++) {
    let i = row0 + r;
    if (i >= u.lq) { break; }
    for (var c = 0u; c < NQ; c++) { dq[(bh * u.lq + i) * ${DQ}u + c] = acc[r * ${DQ}u + c]; }
    delta[bh * u.lq + i] = dl[r];
  }
}
`;
  code = placeTiles(code, r);
  return {
    label: label("attention_bwd_q", r),
    code,
    bindings: [
      "read",
      "read",
      "read",
      ...(r.mask ? ["read" as const] : []),
      "read",
      "read",
      "read",
      "write",
      "write",
      "uniform",
    ],
    workgroupSize: [r.wg, 1, 1],
    rows: R,
    kind: "q",
    loopsPerStep: 2 + 3 * R + (2 * DQ + DV) * (1 + R),
    loopsFixed: R * (2 * DQ + 2 * DV + 2) + 16,
    vq: DQ,
    vv: DV,
    wg: r.wg,
  };
}

/**
 * Backward for dK and dV. Bindings: q, k, v, [mask], dout, lse, delta, dk, dv, uniforms. Each
 * invocation owns `rows` keys and streams the queries: p = exp(s - lse_i), dv_j += z·p·dO_i,
 * dk_j += scale·p·(z·dO_i·v_j - delta_i)·q_i.
 */
export function attentionBackwardKVKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionBackwardKVKernel", spec, buildAttentionBackwardKVKernel);
}

function buildAttentionBackwardKVKernel(spec: AttentionSpec): AttentionKernel {
  const r = resolveAttentionSpec(spec);
  const { DQ, DV } = vecOf(r);
  fitTiles(r, 2 * r.d + 2 * r.dv + 2);
  const R = r.rows;
  const mb = r.mask ? 1 : 0;
  let code = `${common(r)}
@group(0) @binding(0) var<storage, read> q: array<V>;
@group(0) @binding(1) var<storage, read> k: array<V>;
@group(0) @binding(2) var<storage, read> v: array<V>;
${r.mask ? "@group(0) @binding(3) var<storage, read> mask: array<f32>;" : ""}
@group(0) @binding(${3 + mb}) var<storage, read> dout: array<V>;
@group(0) @binding(${4 + mb}) var<storage, read> ml: array<f32>;
@group(0) @binding(${5 + mb}) var<storage, read> delta: array<f32>;
@group(0) @binding(${6 + mb}) var<storage, read_write> dk: array<V>;
@group(0) @binding(${7 + mb}) var<storage, read_write> dvo: array<V>;
@group(0) @binding(${8 + mb}) var<uniform> u: U;

@compute @workgroup_size(${r.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bh = wid.y + wid.z * 65535u;
  if (bh >= u.bh) { return; }
  // Loop bounds from the uniforms stop LLVM (lavapipe) from unrolling: compile time.
  let NR = ${r.loops === "static" ? `${r.rows}u` : "u.rows"};
  let NQ = ${r.loops === "static" ? `${DQ}u` : "u.dq"};
  let NV = ${r.loops === "static" ? `${DV}u` : "u.dv"};
  let row0 = (wid.x * ${r.wg}u + lid.x) * ${R}u;
  var kr: array<V, ${R * DQ}>;
  var vr: array<V, ${R * DV}>;
  var ak: array<V, ${R * DQ}>;
  var av: array<V, ${R * DV}>;
  var sa: array<f32, ${R}>;
  var sb: array<f32, ${R}>;
  for (var r = 0u; r < NR; r++) {
    let j = min(row0 + r, u.lk - 1u);
    let rb = bh * u.lk + j;
    for (var c = 0u; c < NQ; c++) {
      kr[r * ${DQ}u + c] = k[rb * ${DQ}u + c];
      ak[r * ${DQ}u + c] = select(dk[rb * ${DQ}u + c], V(0.0), u.first == 1u);
    }
    for (var c = 0u; c < NV; c++) {
      vr[r * ${DV}u + c] = v[rb * ${DV}u + c];
      av[r * ${DV}u + c] = select(dvo[rb * ${DV}u + c], V(0.0), u.first == 1u);
    }
  }
  for (var i = u.start; i < u.end; i++) {
    let qb = (bh * u.lq + i) * ${DQ}u;
    let gb = (bh * u.lq + i) * ${DV}u;
    let li = ml[(bh * u.lq + i) * 2u] + log(ml[(bh * u.lq + i) * 2u + 1u]);
    let di = delta[bh * u.lq + i];
    for (var r = 0u; r < NR; r++) { sa[r] = 0.0; sb[r] = 0.0; }
    // q and dO vectors are loaded once per query and used for every key row.
    for (var c = 0u; c < NQ; c++) {
      let qv = q[qb + c];
      for (var r = 0u; r < NR; r++) { sa[r] += dotv(qv, kr[r * ${DQ}u + c]); }
    }
    for (var c = 0u; c < NV; c++) {
      let gv = dout[gb + c];
      for (var r = 0u; r < NR; r++) { sb[r] += dotv(gv, vr[r * ${DV}u + c]); }
    }
    for (var r = 0u; r < NR; r++) {
      var a = sa[r] * u.scale;${
    r.mask
      ? `
      a += mask[bh * u.maskStride + i * u.lk + min(row0 + r, u.lk - 1u)];`
      : ""
  }
      let p = exp(a - li);
      ${r.dropout ? "let z = keep(bh, i, row0 + r);" : "let z = 1.0;"}
      sa[r] = p * (sb[r] * z - di) * u.scale;
      sb[r] = p * z;
    }
    for (var c = 0u; c < NV; c++) {
      let gv = dout[gb + c];
      for (var r = 0u; r < NR; r++) { av[r * ${DV}u + c] += sb[r] * gv; }
    }
    for (var c = 0u; c < NQ; c++) {
      let qv = q[qb + c];
      for (var r = 0u; r < NR; r++) { ak[r * ${DQ}u + c] += sa[r] * qv; }
    }
  }
  for (var r = 0u; r < NR; r++) {
    let j = row0 + r;
    if (j >= u.lk) { break; }
    for (var c = 0u; c < NQ; c++) { dk[(bh * u.lk + j) * ${DQ}u + c] = ak[r * ${DQ}u + c]; }
    for (var c = 0u; c < NV; c++) { dvo[(bh * u.lk + j) * ${DV}u + c] = av[r * ${DV}u + c]; }
  }
}
`;
  code = placeTiles(code, r);
  return {
    label: label("attention_bwd_kv", r),
    code,
    bindings: [
      "read",
      "read",
      "read",
      ...(r.mask ? ["read" as const] : []),
      "read",
      "read",
      "read",
      "write",
      "write",
      "uniform",
    ],
    workgroupSize: [r.wg, 1, 1],
    rows: R,
    kind: "kv",
    loopsPerStep: 2 + 3 * R + 2 * (DQ + DV) * (1 + R),
    loopsFixed: 2 * R * (DQ + DV + 1) + 16,
    vq: DQ,
    vv: DV,
    wg: r.wg,
  };
}

const attentionMemo = new Map<string, AttentionKernel>();

/** Builds each distinct kernel once (a launch then costs a map lookup, see memoKernel). */
function memoAttention(
  name: string,
  spec: AttentionSpec,
  build: (s: AttentionSpec) => AttentionKernel,
): AttentionKernel {
  const key = `${name}:${JSON.stringify(resolveAttentionSpec(spec))}`;
  let k = attentionMemo.get(key);
  if (!k) attentionMemo.set(key, k = build(spec));
  return k;
}

/** CPU twin of the kernels' dropout draw, for tests and references. */
export function dropoutKeep(seed: number, bh: number, i: number, j: number): number {
  const pcg = (x: number) => {
    const s = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
    const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
    return ((w >>> 22) ^ w) >>> 0;
  };
  return pcg((pcg((pcg((seed ^ pcg(bh)) >>> 0) ^ i) >>> 0) ^ j) >>> 0);
}
