/**
 * The host side of the attention kernels: what a kernel is specialised on (`AttentionSpec`), the
 * descriptor a generator returns (`AttentionKernel`), the uniforms it reads, and the dispatch
 * arithmetic (workgroups, chunks of the stream within lavapipe's loop limit).
 *
 * @module
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
