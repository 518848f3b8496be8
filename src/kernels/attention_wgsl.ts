/**
 * WGSL pieces shared by the attention kernel generators (not part of the public kernels API):
 * the uniform struct and dropout hash, the binding layout with its window offsets, the register
 * tiles and folds, and the one builder of the kernel descriptor. Every register name is fixed
 * here, when the WGSL is generated (see `src/kernels/attention.ts` for why).
 *
 * @module
 */
import type { BindingKind } from "../gpu/kernel_source.ts";
import {
  type AttentionKernel,
  type AttentionSpec,
  resolveAttentionSpec,
} from "./attention_spec.ts";

/** A spec with every default filled in (`resolveAttentionSpec`). */
export type Resolved = Required<AttentionSpec>;

/** Vector type of the q/k and v/out rows and their lengths in vectors (vec4 when d, dv allow). */
export interface Dims {
  /** WGSL type of one vector. */
  V: string;
  /** Vectors per q/k row and per v/out row. */
  DQ: number;
  DV: number;
  /** WGSL body of `dotv(a, b)`. */
  dotv: string;
}

/** The `Dims` of a spec. */
export function vecOf(r: Resolved): Dims {
  const vec = r.d % 4 === 0 && r.dv % 4 === 0;
  const w = vec ? 4 : 1;
  return {
    V: vec ? "vec4<f32>" : "f32",
    DQ: r.d / w,
    DV: r.dv / w,
    dotv: vec ? "dot(a, b)" : "a * b",
  };
}

/** WGSL shared by every kernel: uniforms, dot and the dropout hash. */
function common(r: Resolved): string {
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

/** CPU twin of the kernels' dropout draw (`keep` above), for tests and references. */
export function dropoutKeep(seed: number, bh: number, i: number, j: number): number {
  const pcg = (x: number) => {
    const s = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
    const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
    return ((w >>> 22) ^ w) >>> 0;
  };
  return pcg((pcg((pcg((seed ^ pcg(bh)) >>> 0) ^ i) >>> 0) ^ j) >>> 0);
}

/** `f(a, b)` for every cell of an a x b tile, one line each (register names are fixed here). */
export function each(a: number, b: number, f: (x: number, y: number) => string): string {
  const out: string[] = [];
  for (let x = 0; x < a; x++) for (let y = 0; y < b; y++) out.push(f(x, y));
  return out.join("\n");
}

/** One line per index. */
export function lines(n: number, f: (x: number) => string): string {
  return Array.from({ length: n }, (_, x) => f(x)).join("\n");
}

/**
 * A storage binding after q, k and v (and the mask, when bound): WGSL name, whether the kernel
 * writes it, and whether its elements are f32 rather than row vectors `V`.
 */
export type Slot = readonly [name: string, access: "read" | "read_write", elem: "V" | "f32"];

/** The bindings of one kernel: their WGSL, their kinds, and the index expressions into them. */
export interface Layout {
  /** The WGSL module up to the entry point: `common`, then one declaration per binding. */
  head: string;
  /** Binding kinds for the descriptor, in binding order (uniforms last). */
  bindings: BindingKind[];
  /**
   * Index prefix of binding `name`: in the windowed variant its element offset from the uniforms
   * (`u.o{binding} + `), else nothing.
   */
  off(name: string): string;
  /** Vector `c` of row `row` (a WGSL expression) of binding `name`, rows `n` vectors long. */
  vec(name: string, row: string, n: number): string;
}

/**
 * Lays out q, k, v (binding 0-2), the mask (binding 3, or an empty line when unbound, so both
 * variants keep one source layout), then `slots`, then the uniforms.
 */
export function layout(r: Resolved, slots: readonly Slot[]): Layout {
  const all: Slot[] = [["q", "read", "V"], ["k", "read", "V"], ["v", "read", "V"]];
  if (r.mask) all.push(["mask", "read", "f32"]);
  all.push(...slots);
  const decl = all.map(([name, access, elem], i) =>
    `@group(0) @binding(${i}) var<storage, ${access}> ${name}: array<${elem}>;`
  );
  if (!r.mask) decl.splice(3, 0, "");
  decl.push(`@group(0) @binding(${all.length}) var<uniform> u: U;`);
  const index = new Map(all.map(([name], i) => [name, i]));
  const off = (name: string) => {
    const i = index.get(name);
    if (i === undefined) throw new Error(`attention kernel: no binding named "${name}"`);
    return r.windowed ? `u.o${i} + ` : "";
  };
  return {
    head: `${common(r)}\n${decl.join("\n")}\n\n`,
    bindings: [...all.map(([, a]) => a === "read" ? "read" as const : "write" as const), "uniform"],
    off,
    vec: (name, row, n) => `${name}[${off(name)}${row} * ${n}u + c]`,
  };
}

/** The additive mask term for query row `i` and key `j` (WGSL expressions), or nothing. */
export function maskAt(r: Resolved, l: Layout, i: string, j: string): string {
  return r.mask ? ` + mask[${l.off("mask")}bh * u.maskStride + ${i} * u.lk + ${j}]` : "";
}

/** Logsumexp m + log l of query row `i` (an index into ml's rows). */
export function lse(l: Layout, i: string): string {
  return `ml[${l.off("ml")}${i} * 2u] + log(ml[${l.off("ml")}${i} * 2u + 1u])`;
}

/** Row indices of a run of `n` consecutive rows (see `rowIndices`). */
export interface Rows {
  n: number;
  /** Indent of each line. */
  pad: string;
  /** Name of the clamped row within the head (`{clamped}{x}`). */
  clamped: string;
  /** Name of the row's index into the bound rows (`{flat}{x} = bh · {per} + clamped`). */
  flat: string;
  /** First row (WGSL) and the end the rows are clamped below. */
  base: string;
  end: string;
  /** Rows per head: "u.lq" or "u.lk". */
  per: string;
  /** Further lines of row x. */
  more?: (x: number) => string[];
}

/**
 * The indices of rows base + x: rows past `end` are clamped to the last valid row (see `foldRows`
 * for why that needs no branch), then the clamped row's index into its binding.
 */
export function rowIndices(o: Rows): string {
  return lines(o.n, (x) =>
    [
      `let ${o.clamped}${x} = min(${o.base} + ${x}u, ${o.end} - 1u);`,
      `let ${o.flat}${x} = bh * ${o.per} + ${o.clamped}${x};`,
      ...(o.more?.(x) ?? []),
    ].map((s) => o.pad + s).join("\n"));
}

/**
 * The owned query rows of the forward and dQ kernels (ri{x} clamped, i{x} bound), each with the
 * kernel's `more` lines.
 */
export function queryRows(r: Resolved, more: (x: number) => string[]): string {
  return rowIndices({
    n: r.rows,
    pad: "  ",
    clamped: "ri",
    flat: "i",
    base: "row0",
    end: "u.lq",
    per: "u.lq",
    more,
  });
}

/**
 * `n` streamed key rows from j0 (rj{x} clamped below the chunk end, kj{x} bound), each with
 * `more` lines.
 */
export function keyRows(
  n: number,
  pad: string,
  clamped: string,
  more?: (x: number) => string[],
): string {
  return rowIndices({ n, pad, clamped, flat: "kj", base: "j0", end: "u.end", per: "u.lk", more });
}

/**
 * Opens the forward's and dQ kernel's loop over blocks of keys (cj{y} clamped, kj{y} bound) and
 * forms the block's score tile s (and with `t`, the dO·v tile t).
 */
export function keyBlocks(r: Resolved, l: Layout, t: boolean): string {
  return `  for (var j0 = u.start; j0 < u.end; j0 += ${r.block}u) {
${keyRows(r.block, "    ", "cj")}
${scoreTiles(r, l, { queries: "i", keys: "kj", ownQueries: true, t })}`;
}

/** Entry point header of the row kernels: head index, first owned row, early exit past the rows. */
export function entry(r: Resolved, n: string): string {
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

/** Which rows a tile pairs: index prefixes of the query and key rows, and which side is owned. */
export interface TileRows {
  /** Query row x (or y) is `${queries}${x}` (an index into q's rows). */
  queries: string;
  /** Key row is `${keys}${y}`. */
  keys: string;
  /** The owned rows (x, tile height `rows`) are queries; else keys. */
  ownQueries: boolean;
  /** Also form t = dO·v (the backward kernels). @default false */
  t?: boolean;
}

/**
 * The score tile s{x}_{y} = q·k and, for the backward, t{x}_{y} = dO·v, over the owned rows x
 * and the streamed rows y.
 */
export function scoreTiles(r: Resolved, l: Layout, o: TileRows): string {
  const { DQ, DV } = vecOf(r);
  const pair = (qn: string, kn: string, n: number) => {
    const qr = (i: number) => l.vec(qn, `${o.queries}${i}`, n);
    const kr = (i: number) => l.vec(kn, `${o.keys}${i}`, n);
    return o.ownQueries ? { a: qr, b: kr } : { a: kr, b: qr };
  };
  const s = dotTile("s", DQ, r.rows, r.block, pair("q", "k", DQ));
  return o.t ? `${s}\n${dotTile("t", DV, r.rows, r.block, pair("dout", "v", DV))}` : s;
}

/** A tile fold (`foldRows`): which binding, which rows, which streamed vectors, which weights. */
export interface Fold {
  /** Binding folded into (read, updated and written in place). */
  buf: string;
  /** Vectors per row. */
  n: number;
  rows: number;
  block: number;
  /** Row x's index into `buf`'s rows (a WGSL expression). */
  row: (x: number) => string;
  /** Streamed vector y (a WGSL expression). */
  b: (y: number) => string;
  w: (x: number, y: number) => string;
  scale?: (x: number) => string;
  /** Whether this block starts the rows from 0 (WGSL bool). @default "fresh" */
  fresh?: string;
}

/**
 * Folds a tile into the owned rows' vectors in buffer `buf`: buf[x] = buf[x]·scale(x) +
 * Σ_y w(x, y)·B[y], starting from 0 on the first block. Rows past the end are clamped by the
 * caller to the last valid row, which is always owned by the same invocation (rows are
 * consecutive); their stores are emitted before the valid rows' (highest row first), so the
 * valid row's store lands last and no branch guards the stores (measured ~5% faster on lavapipe
 * than `if (valid)` per store). Folding several tiles in one loop measured slower (register
 * pressure).
 */
export function foldRows(l: Layout, o: Fold): string {
  const at = (x: number) => l.vec(o.buf, o.row(x), o.n);
  return `    for (var c = 0u; c < ${o.n}u; c++) {
${
    lines(o.rows, (x) =>
      `      var o${x} = select(${at(x)}${o.scale ? ` * ${o.scale(x)}` : ""}, V(0.0), ${
        o.fresh ?? "fresh"
      });`)
  }
${lines(o.block, (y) => `      let b${y} = ${o.b(y)};`)}
${each(o.rows, o.block, (x, y) => `      o${x} += ${o.w(x, y)} * b${y};`)}
${lines(o.rows, (x) => `      ${at(o.rows - 1 - x)} = o${o.rows - 1 - x};`)}
    }`;
}

/**
 * The forward's and dQ kernel's fold into the owned query rows i{x} of `buf` (`n` vectors a
 * row): the streamed vectors are the block's key rows kj{y} of binding `from`.
 */
export function foldQueries(
  r: Resolved,
  l: Layout,
  o: Pick<Fold, "buf" | "n" | "w" | "scale"> & { from: string },
): string {
  const { from, ...rest } = o;
  return foldRows(l, {
    ...rest,
    rows: r.rows,
    block: r.block,
    row: (x) => `i${x}`,
    b: (y) => l.vec(from, `kj${y}`, o.n),
  });
}

/** Loop iterations per invocation (see `AttentionKernel.loopsPerBlock`). */
export interface Loops {
  perBlock: number;
  fixed: number;
}

/** The descriptor of a generated kernel: its label names every spec field. */
export function describe(
  name: string,
  kind: AttentionKernel["kind"],
  r: Resolved,
  l: Layout,
  body: string,
  loops: Loops,
): AttentionKernel {
  const { DQ, DV } = vecOf(r);
  return {
    label: `${name}(d=${r.d},dv=${r.dv},rows=${r.rows},block=${r.block},wg=${r.wg},` +
      `mask=${r.mask},dropout=${r.dropout}${r.windowed ? ",windowed" : ""})`,
    code: l.head + body,
    bindings: l.bindings,
    workgroupSize: [r.wg, 1, 1],
    rows: r.rows,
    block: r.block,
    kind,
    windowed: r.windowed,
    loopsPerBlock: loops.perBlock,
    loopsFixed: loops.fixed,
    vq: DQ,
    vv: DV,
    wg: r.wg,
  };
}

const attentionMemo = new Map<string, AttentionKernel>();

/** Builds each distinct kernel once (a launch then costs a map lookup, see memoKernel). */
export function memoAttention(
  name: string,
  spec: AttentionSpec,
  build: (r: Resolved, dims: Dims) => AttentionKernel,
): AttentionKernel {
  const r = resolveAttentionSpec(spec);
  const key = `${name}:${JSON.stringify(r)}`;
  let k = attentionMemo.get(key);
  if (!k) attentionMemo.set(key, k = build(r, vecOf(r)));
  return k;
}
