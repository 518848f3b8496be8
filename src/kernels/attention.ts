/**
 * Flash-style scaled-dot-product attention kernels (forward, dQ backward, dK/dV backward, and a
 * one-pass backward for many short heads).
 *
 * Layout: q [BH, Lq, d], k [BH, Lk, d], v [BH, Lk, dv], out [BH, Lq, dv], all row-major f32;
 * ml [BH, Lq, 2] = (row max m, row sum l) of the softmax, saved by the forward; the backward
 * uses logsumexp = m + log l and delta_i = dO_i·O_i (written by the dQ kernel, read by the
 * dK/dV kernel). Optional additive mask [Lq, Lk] (broadcast over BH, `maskStride` 0) or
 * [BH, Lq, Lk] (`maskStride` Lq·Lk). Optional dropout on the probabilities: keep (i, j) of head
 * bh when `dropoutKeep(seed, bh, i, j) >= threshold` (a counter-based PCG hash), kept values
 * scaled by 1/(1-p); the backward recomputes the same decision, so no mask is stored.
 *
 * Tiling (all three kernels): each invocation owns `rows` consecutive rows (queries for the
 * forward and dQ, keys for dK/dV) and streams the other side in blocks of `block`. Per block it
 * forms a rows x block tile of scores (and of dO·v for the backward) in registers: a loop over
 * the head dim loads one vector of each of its rows and of each streamed row and does
 * rows·block dot products, so every buffer load feeds `rows` or `block` of them. The tile is
 * then folded into the owned rows' output (out, dq, or dk and dv) by a second loop over the head
 * dim that reads, updates and writes those rows in place (the online-softmax rescale rides on
 * that read), so nothing of head-dim size stays in registers and the generated code is one
 * tile's worth of straight-line statements inside short loops. The score matrix never exists.
 *
 * Why this shape: on lavapipe (llvmpipe) every buffer load is a per-lane scalar loop, so loads,
 * not FMAs, bound the rate; and an array indexed by a loop variable is memory, not registers
 * (the earlier kernels kept their tiles in such arrays, workgroup or private, indexed by loops
 * with uniform bounds). Here every register is a named scalar or vector (indices are fixed when the WGSL is
 * generated), and loops run over the head dim or the stream only. Measured on lavapipe with
 * 8 x 8 (8 x 16) tiles: forward 3-4.6x, backward 2.4-3.7x the rate of our matmul (was 0.3-0.6x;
 * bench/results/attention-lavapipe.txt); compile time grows with rows·block.
 * Real GPUs get the same kernels with smaller tiles in wider workgroups (set by the op).
 *
 * Workgroup (x, y, z) covers rows [x·wg·rows, (x+1)·wg·rows) of head y + 65535·z; rows past the
 * end are clamped to the last row (which the same invocation owns) and stored before it, so its
 * own store lands last (no branch per store); streamed rows past the chunk end get score -inf.
 * Vectors are vec4 when d and dv are multiples of 4, scalars otherwise.
 *
 * The one-pass backward (`attentionBackwardKernel`) instead gives each invocation a whole head
 * and forms each score tile once for dQ, dK and dV (5 passes over the head dim per tile instead
 * of the split kernels' 7); Hiera's windows (many 64-token heads) use it on CPU adapters.
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
  /** Owned rows per invocation (register tile height). @default 8 */
  rows?: number;
  /** Streamed rows per block (register tile width). @default 8 */
  block?: number;
  /** Invocations per workgroup. @default 8 */
  wg?: number;
  /** Whether an additive mask buffer is bound. @default false */
  mask?: boolean;
  /** Whether dropout is applied. @default false */
  dropout?: boolean;
  /**
   * Windowed variant for launches split over heads (operands above the binding limit): every
   * buffer index adds a per-binding element offset from the uniforms (`offsets`), and the
   * dropout hash adds the chunk's first head (`bh0`), so each head computes exactly what the
   * unsplit launch does. The plain variant's code is unchanged. @default false
   */
  windowed?: boolean;
}

/** Uniform block shared by the three kernels (16 words; see `attentionUniforms`). */
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
  /** Windowed kernels: global index of the launch's head 0 (for the dropout hash). @default 0 */
  bh0?: number;
  /**
   * Windowed kernels: per binding (in binding order, uniforms excluded), the index in that
   * binding's array (vectors for q, k, v, out and their gradients; f32 for mask, ml, delta) of
   * the launch's head 0. @default all 0
   */
  offsets?: readonly number[];
}

/** A generated attention kernel plus the tiling facts the host needs for uniforms and dispatch. */
export interface AttentionKernel extends KernelSource {
  /** Rows each invocation owns. */
  rows: number;
  /** Streamed rows per block. */
  block: number;
  /** Vector elements per q/k row and per v/out row. */
  vq: number;
  vv: number;
  /** Invocations per workgroup. */
  wg: number;
  /**
   * Which kernel: the forward, dQ, dK/dV, or the one-pass backward (`bwd`: one invocation per
   * head computes dQ, dK and dV; see `attentionBackwardKernel`).
   */
  kind: "fwd" | "q" | "kv" | "bwd";
  /** Whether this is the windowed variant (offsets from the uniforms). */
  windowed: boolean;
  /**
   * Loop iterations per invocation for each block of streamed rows (keys, or queries for
   * dK/dV), and for the fixed part; `attentionChunks` splits the stream so that lavapipe's limit
   * of 65535 loop iterations per invocation (LP_MAX_TGSI_LOOP_ITERATIONS, shared by every loop
   * of a shader: past it loops silently stop) is never reached. For `bwd`: per tile of `rows`
   * keys x `block` queries, and `loopsFixed` is per query (the delta pass).
   */
  loopsPerBlock: number;
  loopsFixed: number;
}

/**
 * Loop iterations per invocation that one dispatch may plan for on lavapipe: its hard limit is
 * 65535; the margin is for loops the estimate might miss (an earlier kernel's estimate came
 * out ~2x low against measured failures).
 */
export const LAVAPIPE_LOOP_BUDGET = 20000;

/**
 * Chunks [start, end) of the streamed dimension (n keys, or queries for dK/dV), whole blocks
 * each, so that one dispatch stays within `budget` loop iterations per invocation (Infinity:
 * one chunk, for real GPUs). The one-pass backward (`bwd`) chunks its keys in blocks of `rows`,
 * each block sweeping all `other` queries.
 */
export function attentionChunks(
  kernel: AttentionKernel,
  n: number,
  budget: number,
  other = 0,
): [number, number][] {
  const one = kernel.kind === "bwd";
  const perBlock = one
    ? Math.ceil(other / kernel.block) * kernel.loopsPerBlock + 1
    : kernel.loopsPerBlock;
  const fixed = one ? other * kernel.loopsFixed + 1 : kernel.loopsFixed;
  const blocks = Math.max(1, Math.floor((budget - fixed) / perBlock));
  const per = blocks * (one ? kernel.rows : kernel.block);
  if (!Number.isFinite(budget) || n <= per) return [[0, n]];
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += per) out.push([s, Math.min(n, s + per)]);
  return out;
}

/** Packs `AttentionUniforms` in the WGSL struct's order. */
export function attentionUniforms(kernel: AttentionKernel, u: AttentionUniforms): ArrayBuffer {
  const b = new ArrayBuffer(kernel.windowed ? 128 : 64);
  const w = new Uint32Array(b), f = new Float32Array(b);
  w[0] = u.lq;
  w[1] = u.lk;
  w[2] = u.bh;
  w[3] = u.maskStride;
  f[4] = u.scale;
  f[5] = u.keepScale;
  w[6] = u.seed >>> 0;
  w[7] = u.threshold >>> 0;
  w[8] = u.first === false ? 0 : 1;
  w[9] = u.start ?? 0;
  w[10] = u.end ?? (kernel.kind === "kv" ? u.lq : u.lk);
  w[11] = u.last === false ? 0 : 1;
  if (kernel.windowed) {
    w[12] = u.bh0 ?? 0;
    (u.offsets ?? []).forEach((o, i) => w[16 + i] = o);
  }
  return b;
}

/** Resolved spec: every default filled in and clamped to a legal value. */
export function resolveAttentionSpec(s: AttentionSpec): Required<AttentionSpec> {
  const d = Math.max(1, Math.floor(s.d)), dv = Math.max(1, Math.floor(s.dv ?? d));
  return {
    d,
    dv,
    rows: Math.max(1, Math.min(16, Math.floor(s.rows ?? 8))),
    block: Math.max(1, Math.min(16, Math.floor(s.block ?? 8))),
    wg: Math.max(1, Math.min(256, Math.floor(s.wg ?? 8))),
    mask: s.mask ?? false,
    dropout: s.dropout ?? false,
    windowed: s.windowed ?? false,
  };
}

/**
 * Workgroup counts for `n` rows per head (queries, or keys for dK/dV) over `bh` heads; the
 * one-pass backward runs one invocation per head (`n` unused).
 */
export function attentionWorkgroups(
  kernel: AttentionKernel,
  n: number,
  bh: number,
): [number, number, number] {
  if (kernel.kind === "bwd") {
    const groups = Math.ceil(bh / kernel.wg);
    return [Math.min(groups, 65535), Math.ceil(groups / 65535), 1];
  }
  return [Math.ceil(n / (kernel.wg * kernel.rows)), Math.min(bh, 65535), Math.ceil(bh / 65535)];
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

/** WGSL shared by the three kernels: uniforms, dot and the dropout hash. */
function common(r: Required<AttentionSpec>): string {
  const { V, dotv } = vecOf(r);
  return `
struct U {
  lq: u32, lk: u32, bh: u32, maskStride: u32, scale: f32, keepScale: f32, seed: u32, thresh: u32,
  first: u32, start: u32, end: u32, last: u32, ${
    r.windowed
      ? `bh0: u32, p1: u32, p2: u32, p3: u32,
  ${lines(16, (i) => `o${i}: u32,`).replaceAll("\n", " ")}`
      : "p0: u32, p1: u32, p2: u32, p3: u32,"
  }
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
  let h = pcg(pcg(pcg(u.seed ^ pcg(${r.windowed ? "u.bh0 + bh" : "bh"})) ^ i) ^ j);
  return select(0.0, u.keepScale, h >= u.thresh);
}
`;
}

/** `f(a, b)` for every cell of an a x b tile, one line each (register names are fixed here). */
function each(a: number, b: number, f: (x: number, y: number) => string): string {
  const out: string[] = [];
  for (let x = 0; x < a; x++) for (let y = 0; y < b; y++) out.push(f(x, y));
  return out.join("\n");
}

/** One line per index. */
function lines(n: number, f: (x: number) => string): string {
  return Array.from({ length: n }, (_, x) => f(x)).join("\n");
}

/** Entry point header: head index, first owned row, early exit past the rows. */
function entry(r: Required<AttentionSpec>, n: string): string {
  return `@compute @workgroup_size(${r.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bh = wid.y + wid.z * 65535u;
  if (bh >= u.bh) { return; }
  let row0 = (wid.x * ${r.wg}u + lid.x) * ${r.rows}u;
  if (row0 >= ${n}) { return; }
  let ninf = bitcast<f32>(0xff800000u);
  var fresh = u.first == 1u;`;
}

/**
 * Register tile t{x}_{y} += dot(A[x], B[y]) over the head dim: per step, one vector of each owned
 * row (`aRow(x)`) and each streamed row (`bRow(y)`) is loaded and used rows (block) times.
 */
function dotTile(
  t: string,
  n: number,
  rows: number,
  block: number,
  load: { a: (x: number) => string; b: (y: number) => string },
): string {
  return `${each(rows, block, (x, y) => `    var ${t}${x}_${y} = 0.0;`)}
    for (var c = 0u; c < ${n}u; c++) {
${lines(rows, (x) => `      let a${x} = ${load.a(x)};`)}
${lines(block, (y) => `      let b${y} = ${load.b(y)};`)}
${each(rows, block, (x, y) => `      ${t}${x}_${y} += dotv(a${x}, b${y});`)}
    }`;
}

/** A tile fold (`foldRows`): which buffer rows, which streamed vectors, which weights. */
interface Fold {
  buf: string;
  rows: number;
  block: number;
  row: (x: number) => string;
  b: (y: number) => string;
  w: (x: number, y: number) => string;
  scale?: (x: number) => string;
  /** Whether this block starts the rows from 0 (WGSL bool). @default "fresh" */
  fresh?: string;
}

/**
 * Folds a tile into the owned rows' vectors in buffer `buf` (row index `row(x)`, `n` vectors per
 * row): buf[x] = buf[x]·scale(x) + Σ_y w(x, y)·B[y], starting from 0 on the first block.
 * Rows past the end are clamped by the caller to the last valid row, which is always owned by
 * the same invocation (rows are consecutive); their stores are emitted before the valid rows'
 * (highest row first), so the valid row's store lands last and no branch guards the stores
 * (measured ~5% faster on lavapipe than `if (valid)` per store). Folding several tiles in one
 * loop measured slower (register pressure).
 */
function foldRows(n: number, o: Fold): string {
  return `    for (var c = 0u; c < ${n}u; c++) {
${
    lines(o.rows, (x) =>
      `      var o${x} = select(${o.buf}[${o.row(x)} + c]${
        o.scale ? ` * ${o.scale(x)}` : ""
      }, V(0.0), ${o.fresh ?? "fresh"});`)
  }
${lines(o.block, (y) => `      let b${y} = ${o.b(y)};`)}
${each(o.rows, o.block, (x, y) => `      o${x} += ${o.w(x, y)} * b${y};`)}
${lines(o.rows, (x) => `      ${o.buf}[${o.row(o.rows - 1 - x)} + c] = o${o.rows - 1 - x};`)}
    }`;
}

/** `foldRows` with the buffer and tile size as arguments. */
function foldTile(
  buf: string,
  n: number,
  rows: number,
  block: number,
  o: Omit<Fold, "buf" | "rows" | "block">,
): string {
  return foldRows(n, { buf, rows, block, ...o });
}

function label(name: string, r: Required<AttentionSpec>): string {
  return `${name}(d=${r.d},dv=${r.dv},rows=${r.rows},block=${r.block},wg=${r.wg},` +
    `mask=${r.mask},dropout=${r.dropout}${r.windowed ? ",windowed" : ""})`;
}

/** Index prefix of binding `i`: its element offset from the uniforms in the windowed variant. */
function offsetOf(r: Required<AttentionSpec>): (i: number) => string {
  return (i) => r.windowed ? `u.o${i} + ` : "";
}

/**
 * Forward. Bindings: q, k, v, [mask], out, ml, uniforms. Per block of keys: the score tile, the
 * online-softmax step per row (new max, rescale factor, p = exp(s - m)), then out = out·corr +
 * p·v (p times the dropout keep factor, which l ignores).
 */
export function attentionForwardKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionForwardKernel", spec, buildAttentionForwardKernel);
}

function buildAttentionForwardKernel(spec: AttentionSpec): AttentionKernel {
  const r = resolveAttentionSpec(spec);
  const { DQ, DV } = vecOf(r);
  const R = r.rows, B = r.block;
  const mb = r.mask ? 1 : 0;
  const O = offsetOf(r);
  const mask = (x: number, y: number) =>
    r.mask ? ` + mask[${O(3)}bh * u.maskStride + ri${x} * u.lk + cj${y}]` : "";
  const p = (x: number, y: number) =>
    r.dropout ? `(s${x}_${y} * keep(bh, row0 + ${x}u, j0 + ${y}u))` : `s${x}_${y}`;
  const code = `${common(r)}
@group(0) @binding(0) var<storage, read> q: array<V>;
@group(0) @binding(1) var<storage, read> k: array<V>;
@group(0) @binding(2) var<storage, read> v: array<V>;
${r.mask ? "@group(0) @binding(3) var<storage, read> mask: array<f32>;" : ""}
@group(0) @binding(${3 + mb}) var<storage, read_write> out: array<V>;
@group(0) @binding(${4 + mb}) var<storage, read_write> ml: array<f32>;
@group(0) @binding(${5 + mb}) var<uniform> u: U;

${entry(r, "u.lq")}
${
    lines(R, (x) =>
      `  let ri${x} = min(row0 + ${x}u, u.lq - 1u);
  let i${x} = bh * u.lq + ri${x};
  var m${x} = select(ml[${O(4 + mb)}i${x} * 2u], -3.0e38, fresh);
  var l${x} = select(ml[${O(4 + mb)}i${x} * 2u + 1u], 0.0, fresh);`)
  }
  for (var j0 = u.start; j0 < u.end; j0 += ${B}u) {
${
    lines(B, (y) =>
      `    let cj${y} = min(j0 + ${y}u, u.end - 1u);
    let kj${y} = bh * u.lk + cj${y};`)
  }
${
    dotTile("s", DQ, R, B, {
      a: (x) => `q[${O(0)}i${x} * ${DQ}u + c]`,
      b: (y) => `k[${O(1)}kj${y} * ${DQ}u + c]`,
    })
  }
${
    lines(R, (x) =>
      `${
        lines(B, (y) =>
          `    s${x}_${y} = select(ninf, s${x}_${y} * u.scale${mask(x, y)}, j0 + ${y}u < u.end);`)
      }
    var mx${x} = m${x};
${
        lines(B, (y) => `    mx${x} = max(mx${x}, s${x}_${y});`)
      }
    let corr${x} = exp(m${x} - mx${x});
    var sum${x} = 0.0;
${
        lines(B, (y) => `    s${x}_${y} = exp(s${x}_${y} - mx${x});\n    sum${x} += s${x}_${y};`)
      }
    l${x} = l${x} * corr${x} + sum${x};
    m${x} = mx${x};`)
  }
${
    foldTile("out", DV, R, B, {
      row: (x) => `${O(3 + mb)}i${x} * ${DV}u`,
      b: (y) => `v[${O(2)}kj${y} * ${DV}u + c]`,
      w: p,
      scale: (x) => `corr${x}`,
    })
  }
    fresh = false;
  }
${
    lines(R, (x) =>
      `  let inv${x} = select(1.0, select(0.0, 1.0 / l${x}, l${x} > 0.0), u.last == 1u);
  if (row0 + ${x}u < u.lq) {
    ml[${O(4 + mb)}i${x} * 2u] = m${x};
    ml[${O(4 + mb)}i${x} * 2u + 1u] = l${x};
  }`)
  }
  if (u.last == 1u) {
    for (var c = 0u; c < ${DV}u; c++) {
${
    lines(R, (x) =>
      `      if (row0 + ${x}u < u.lq) {
        out[${O(3 + mb)}i${x} * ${DV}u + c] =
          select(out[${O(3 + mb)}i${x} * ${DV}u + c] * inv${x}, V(0.0), fresh);
      }`)
  }
    }
  }
}
`;
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
    block: B,
    kind: "fwd",
    windowed: r.windowed,
    loopsPerBlock: DQ + DV + 1,
    loopsFixed: DV + 1,
    vq: DQ,
    vv: DV,
    wg: r.wg,
  };
}

/**
 * Backward for dQ, also writing delta_i = dO_i·O_i (needed by the dK/dV kernel). Bindings: q, k,
 * v, [mask], out, dout, ml, dq, delta, uniforms. Per block of keys: tiles s = q·k and t = dO·v,
 * p = exp(s·scale + mask - lse_i), dS = p·(z·t - delta_i)·scale (z: the dropout keep factor),
 * then dq_i += Σ_j dS·k_j.
 */
export function attentionBackwardQKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionBackwardQKernel", spec, buildAttentionBackwardQKernel);
}

function buildAttentionBackwardQKernel(spec: AttentionSpec): AttentionKernel {
  const r = resolveAttentionSpec(spec);
  const { DQ, DV } = vecOf(r);
  const R = r.rows, B = r.block;
  const mb = r.mask ? 1 : 0;
  const O = offsetOf(r);
  const mask = (x: number, y: number) =>
    r.mask ? ` + mask[${O(3)}bh * u.maskStride + ri${x} * u.lk + cj${y}]` : "";
  const z = (x: number, y: number) => r.dropout ? ` * keep(bh, row0 + ${x}u, j0 + ${y}u)` : "";
  const code = `${common(r)}
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

${entry(r, "u.lq")}
${
    lines(R, (x) =>
      `  let ri${x} = min(row0 + ${x}u, u.lq - 1u);
  let i${x} = bh * u.lq + ri${x};
  let ls${x} = ml[${O(5 + mb)}i${x} * 2u] + log(ml[${O(5 + mb)}i${x} * 2u + 1u]);
  var dl${x} = 0.0;`)
  }
  for (var c = 0u; c < ${DV}u; c++) {
${
    lines(R, (x) =>
      `    dl${x} += dotv(dout[${O(4 + mb)}i${x} * ${DV}u + c], o[${
        O(3 + mb)
      }i${x} * ${DV}u + c]);`)
  }
  }
${lines(R, (x) => `  if (row0 + ${x}u < u.lq) { delta[${O(7 + mb)}i${x}] = dl${x}; }`)}
  for (var j0 = u.start; j0 < u.end; j0 += ${B}u) {
${
    lines(B, (y) =>
      `    let cj${y} = min(j0 + ${y}u, u.end - 1u);
    let kj${y} = bh * u.lk + cj${y};`)
  }
${
    dotTile("s", DQ, R, B, {
      a: (x) => `q[${O(0)}i${x} * ${DQ}u + c]`,
      b: (y) => `k[${O(1)}kj${y} * ${DQ}u + c]`,
    })
  }
${
    dotTile("t", DV, R, B, {
      a: (x) => `dout[${O(4 + mb)}i${x} * ${DV}u + c]`,
      b: (y) => `v[${O(2)}kj${y} * ${DV}u + c]`,
    })
  }
${
    each(R, B, (x, y) =>
      `    s${x}_${y} = exp(select(ninf, s${x}_${y} * u.scale${
        mask(x, y)
      }, j0 + ${y}u < u.end) - ls${x})
      * (t${x}_${y}${z(x, y)} - dl${x}) * u.scale;`)
  }
${
    foldTile("dq", DQ, R, B, {
      row: (x) => `${O(6 + mb)}i${x} * ${DQ}u`,
      b: (y) => `k[${O(1)}kj${y} * ${DQ}u + c]`,
      w: (x, y) => `s${x}_${y}`,
    })
  }
    fresh = false;
  }
}
`;
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
    block: B,
    kind: "q",
    windowed: r.windowed,
    loopsPerBlock: 2 * DQ + DV + 1,
    loopsFixed: DV + 1,
    vq: DQ,
    vv: DV,
    wg: r.wg,
  };
}

/**
 * Backward for dK and dV. Bindings: q, k, v, [mask], dout, ml, delta, dk, dv, uniforms. Each
 * invocation owns `rows` keys and streams the queries in blocks: tiles s = k·q and t = v·dO,
 * p = exp(s·scale + mask - lse_i), dv_j += z·p·dO_i, dk_j += scale·p·(z·t - delta_i)·q_i.
 */
export function attentionBackwardKVKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionBackwardKVKernel", spec, buildAttentionBackwardKVKernel);
}

function buildAttentionBackwardKVKernel(spec: AttentionSpec): AttentionKernel {
  const r = resolveAttentionSpec(spec);
  const { DQ, DV } = vecOf(r);
  const R = r.rows, B = r.block;
  const mb = r.mask ? 1 : 0;
  const O = offsetOf(r);
  const mask = (x: number, y: number) =>
    r.mask ? ` + mask[${O(3)}bh * u.maskStride + ci${y} * u.lk + rj${x}]` : "";
  const code = `${common(r)}
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

${entry(r, "u.lk")}
${
    lines(R, (x) =>
      `  let rj${x} = min(row0 + ${x}u, u.lk - 1u);
  let j${x} = bh * u.lk + rj${x};`)
  }
  for (var i0 = u.start; i0 < u.end; i0 += ${B}u) {
${
    lines(B, (y) =>
      `    let ci${y} = min(i0 + ${y}u, u.end - 1u);
    let qi${y} = bh * u.lq + ci${y};
    let ls${y} = ml[${O(4 + mb)}qi${y} * 2u] + log(ml[${O(4 + mb)}qi${y} * 2u + 1u]);
    let dl${y} = delta[${O(5 + mb)}qi${y}];`)
  }
${
    dotTile("s", DQ, R, B, {
      a: (x) => `k[${O(1)}j${x} * ${DQ}u + c]`,
      b: (y) => `q[${O(0)}qi${y} * ${DQ}u + c]`,
    })
  }
${
    dotTile("t", DV, R, B, {
      a: (x) => `v[${O(2)}j${x} * ${DV}u + c]`,
      b: (y) => `dout[${O(3 + mb)}qi${y} * ${DV}u + c]`,
    })
  }
${
    each(R, B, (x, y) =>
      `    let p${x}_${y} = exp(select(ninf, s${x}_${y} * u.scale${
        mask(x, y)
      }, i0 + ${y}u < u.end) - ls${y});
    let z${x}_${y} = ${r.dropout ? `keep(bh, i0 + ${y}u, row0 + ${x}u)` : "1.0"};
    s${x}_${y} = p${x}_${y} * (t${x}_${y} * z${x}_${y} - dl${y}) * u.scale;
    t${x}_${y} = p${x}_${y} * z${x}_${y};`)
  }
${
    foldTile("dvo", DV, R, B, {
      row: (x) => `${O(7 + mb)}j${x} * ${DV}u`,
      b: (y) => `dout[${O(3 + mb)}qi${y} * ${DV}u + c]`,
      w: (x, y) => `t${x}_${y}`,
    })
  }
${
    foldTile("dk", DQ, R, B, {
      row: (x) => `${O(6 + mb)}j${x} * ${DQ}u`,
      b: (y) => `q[${O(0)}qi${y} * ${DQ}u + c]`,
      w: (x, y) => `s${x}_${y}`,
    })
  }
    fresh = false;
  }
}
`;
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
    block: B,
    kind: "kv",
    windowed: r.windowed,
    loopsPerBlock: 2 * DQ + 2 * DV + 1,
    loopsFixed: 1,
    vq: DQ,
    vv: DV,
    wg: r.wg,
  };
}

/**
 * One-pass backward for short sequences (Hiera's 64-token windows): one invocation owns a whole
 * head, so it can add into dq, dk and dv without atomics or workgroup memory, and each score
 * and dO·v tile is formed once (the dQ and dK/dV kernels each recompute both: 7 passes over the
 * head dim per tile there, 5 here). Bindings: q, k, v, [mask], out, dout, ml, delta, dq, dk,
 * dv, uniforms. First (on the first chunk) delta_i = dO_i·O_i for every query of the head; then
 * per block of `rows` keys (the streamed range [start, end) of the uniforms, chunked like the
 * other kernels' streams) and per block of `block` queries: tiles s = k·q and t = v·dO,
 * p = exp(s·scale + mask - lse_i), dS = scale·p·(z·t - delta_i), and the folds dv_j += z·p·dO_i,
 * dk_j += dS·q_i, dq_i += dS·k_j. Parallelism is across heads only (8 heads per SIMD-8 batch on
 * lavapipe), so the op uses it when there are many short heads.
 */
export function attentionBackwardKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionBackwardKernel", spec, buildAttentionBackwardKernel);
}

function buildAttentionBackwardKernel(spec: AttentionSpec): AttentionKernel {
  const r = resolveAttentionSpec(spec);
  const { DQ, DV } = vecOf(r);
  const R = r.rows, B = r.block;
  const mb = r.mask ? 1 : 0;
  const O = offsetOf(r);
  const mask = (x: number, y: number) =>
    r.mask ? ` + mask[${O(3)}bh * u.maskStride + ci${y} * u.lk + rj${x}]` : "";
  const dvFold: Fold = {
    buf: "dvo",
    rows: R,
    block: B,
    row: (x) => `${O(9 + mb)}kj${x} * ${DV}u`,
    b: (y) => `dout[${O(4 + mb)}qi${y} * ${DV}u + c]`,
    w: (x, y) => `t${x}_${y}`,
  };
  const dkFold: Fold = {
    buf: "dk",
    rows: R,
    block: B,
    row: (x) => `${O(8 + mb)}kj${x} * ${DQ}u`,
    b: (y) => `q[${O(0)}qi${y} * ${DQ}u + c]`,
    w: (x, y) => `s${x}_${y}`,
  };
  const dqFold: Fold = {
    buf: "dq",
    rows: B,
    block: R,
    row: (y) => `${O(7 + mb)}qi${y} * ${DQ}u`,
    b: (x) => `k[${O(1)}kj${x} * ${DQ}u + c]`,
    w: (y, x) => `s${x}_${y}`,
    fresh: "freshQ",
  };
  const folds = [foldRows(DV, dvFold), foldRows(DQ, dkFold), foldRows(DQ, dqFold)];
  const code = `${common(r)}
@group(0) @binding(0) var<storage, read> q: array<V>;
@group(0) @binding(1) var<storage, read> k: array<V>;
@group(0) @binding(2) var<storage, read> v: array<V>;
${r.mask ? "@group(0) @binding(3) var<storage, read> mask: array<f32>;" : ""}
@group(0) @binding(${3 + mb}) var<storage, read> o: array<V>;
@group(0) @binding(${4 + mb}) var<storage, read> dout: array<V>;
@group(0) @binding(${5 + mb}) var<storage, read> ml: array<f32>;
@group(0) @binding(${6 + mb}) var<storage, read_write> delta: array<f32>;
@group(0) @binding(${7 + mb}) var<storage, read_write> dq: array<V>;
@group(0) @binding(${8 + mb}) var<storage, read_write> dk: array<V>;
@group(0) @binding(${9 + mb}) var<storage, read_write> dvo: array<V>;
@group(0) @binding(${10 + mb}) var<uniform> u: U;

@compute @workgroup_size(${r.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bh = (wid.x + wid.y * 65535u) * ${r.wg}u + lid.x;
  if (bh >= u.bh) { return; }
  let ninf = bitcast<f32>(0xff800000u);
  if (u.first == 1u) {
    for (var i = 0u; i < u.lq; i++) {
      let qi = bh * u.lq + i;
      var dl = 0.0;
      for (var c = 0u; c < ${DV}u; c++) {
        dl += dotv(dout[${O(4 + mb)}qi * ${DV}u + c], o[${O(3 + mb)}qi * ${DV}u + c]);
      }
      delta[${O(6 + mb)}qi] = dl;
    }
  }
  for (var j0 = u.start; j0 < u.end; j0 += ${R}u) {
${
    lines(R, (x) =>
      `    let rj${x} = min(j0 + ${x}u, u.end - 1u);
    let kj${x} = bh * u.lk + rj${x};
    let vk${x} = j0 + ${x}u < u.end;`)
  }
    let freshQ = u.first == 1u && j0 == u.start;
    var fresh = true;
    for (var i0 = 0u; i0 < u.lq; i0 += ${B}u) {
${
    lines(B, (y) =>
      `      let ci${y} = min(i0 + ${y}u, u.lq - 1u);
      let qi${y} = bh * u.lq + ci${y};
      let vq${y} = i0 + ${y}u < u.lq;
      let ls${y} = ml[${O(5 + mb)}qi${y} * 2u] + log(ml[${O(5 + mb)}qi${y} * 2u + 1u]);
      let dl${y} = delta[${O(6 + mb)}qi${y}];`)
  }
${
    dotTile("s", DQ, R, B, {
      a: (x) => `k[${O(1)}kj${x} * ${DQ}u + c]`,
      b: (y) => `q[${O(0)}qi${y} * ${DQ}u + c]`,
    })
  }
${
    dotTile("t", DV, R, B, {
      a: (x) => `v[${O(2)}kj${x} * ${DV}u + c]`,
      b: (y) => `dout[${O(4 + mb)}qi${y} * ${DV}u + c]`,
    })
  }
${
    each(R, B, (x, y) =>
      `      let p${x}_${y} = exp(select(ninf, s${x}_${y} * u.scale${
        mask(x, y)
      }, vk${x} && vq${y}) - ls${y});
      let z${x}_${y} = ${r.dropout ? `keep(bh, i0 + ${y}u, j0 + ${x}u)` : "1.0"};
      s${x}_${y} = p${x}_${y} * (t${x}_${y} * z${x}_${y} - dl${y}) * u.scale;
      t${x}_${y} = p${x}_${y} * z${x}_${y};`)
  }
${folds.join("\n")}
      fresh = false;
    }
  }
}
`;
  return {
    label: label("attention_bwd", r),
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
      "write",
      "write",
      "uniform",
    ],
    workgroupSize: [r.wg, 1, 1],
    rows: R,
    block: B,
    kind: "bwd",
    windowed: r.windowed,
    loopsPerBlock: 3 * DQ + 2 * DV + 1,
    loopsFixed: DV + 1,
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
