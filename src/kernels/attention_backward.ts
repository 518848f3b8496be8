/**
 * The fused attention backward kernels: dQ (also writing delta), dK/dV, and the one-pass
 * backward for many short heads (see `attention.ts`).
 *
 * @module
 */
import type { AttentionKernel, AttentionSpec } from "./attention_spec.ts";
import {
  describe,
  type Dims,
  each,
  entry,
  foldQueries,
  foldRows,
  keyBlocks,
  keyRows,
  type Layout,
  layout,
  lines,
  lse,
  maskAt,
  memoAttention,
  queryRows,
  type Resolved,
  rowIndices,
  scoreTiles,
  type Slot,
  vecOf,
} from "./attention_wgsl.ts";

/** The bindings both dQ-writing kernels read after q, k, v and the mask: out, dO, ml. */
const SAVED: readonly Slot[] = [["o", "read", "V"], ["dout", "read", "V"], ["ml", "read", "f32"]];

/** delta's term for vector `c` of query row `row`: dO·O. */
function deltaTerm(l: Layout, row: string, dv: number): string {
  return `dotv(${l.vec("dout", row, dv)}, ${l.vec("o", row, dv)})`;
}

/**
 * The streamed queries of the dK/dV and one-pass kernels (ci{y} clamped, qi{y} bound), with
 * `valid` also vq{y} (the query exists), then each query's logsumexp ls{y} and delta dl{y}.
 */
function queryBlock(
  r: Resolved,
  l: Layout,
  o: { pad: string; end: string; valid: boolean },
): string {
  return rowIndices({
    n: r.block,
    pad: o.pad,
    clamped: "ci",
    flat: "qi",
    base: "i0",
    end: o.end,
    per: "u.lq",
    more: (y) => [
      ...(o.valid ? [`let vq${y} = i0 + ${y}u < u.lq;`] : []),
      `let ls${y} = ${lse(l, `qi${y}`)};`,
      `let dl${y} = delta[${l.off("delta")}qi${y}];`,
    ],
  });
}

/** Where a key-owned tile sits: its key rows' names, validity and dropout draw. */
interface KeyTile {
  /** Indent of the weight lines. */
  pad: string;
  /** Name of the owned key rows' index into k (`{keys}{x}`). */
  keys: string;
  /** Whether score (x, y) is real (WGSL bool). */
  valid: (x: number, y: number) => string;
  /** Arguments (query, key) of the dropout draw for (x, y). */
  keep: (x: number, y: number) => string;
}

/**
 * For owned keys x and streamed queries y: the tiles s = k·q and t = v·dO, then
 * p = exp(s·scale + mask - lse), z = the keep factor, s := dS = p·(z·t - delta)·scale and
 * t := z·p (the weights of the dK and dV folds).
 */
function keyTile(r: Resolved, l: Layout, o: KeyTile): string {
  return `${scoreTiles(r, l, { queries: "qi", keys: o.keys, ownQueries: false, t: true })}
${
    each(r.rows, r.block, (x, y) =>
      [
        `let p${x}_${y} = exp(select(ninf, s${x}_${y} * u.scale${
          maskAt(r, l, `ci${y}`, `rj${x}`)
        }, ${o.valid(x, y)}) - ls${y});`,
        `let z${x}_${y} = ${r.dropout ? `keep(bh, ${o.keep(x, y)})` : "1.0"};`,
        `s${x}_${y} = p${x}_${y} * (t${x}_${y} * z${x}_${y} - dl${y}) * u.scale;`,
        `t${x}_${y} = p${x}_${y} * z${x}_${y};`,
      ].map((s) => o.pad + s).join("\n"))
  }`;
}

/** The folds dv_j += t·dO_i and dk_j += s·q_i into the owned keys `{keys}{x}`. */
function keyFolds(r: Resolved, l: Layout, keys: string): string {
  const { DQ, DV } = vecOf(r);
  const fold = (buf: string, n: number, from: string, w: string) =>
    foldRows(l, {
      buf,
      n,
      rows: r.rows,
      block: r.block,
      row: (x) => `${keys}${x}`,
      b: (y) => l.vec(from, `qi${y}`, n),
      w: (x, y) => `${w}${x}_${y}`,
    });
  return `${fold("dvo", DV, "dout", "t")}\n${fold("dk", DQ, "q", "s")}`;
}

/**
 * Backward for dQ, also writing delta_i = dO_i·O_i (needed by the dK/dV kernel). Bindings: q, k,
 * v, [mask], out, dout, ml, dq, delta, uniforms. Per block of keys: tiles s = q·k and t = dO·v,
 * p = exp(s·scale + mask - lse_i), dS = p·(z·t - delta_i)·scale (z: the dropout keep factor),
 * then dq_i += Σ_j dS·k_j.
 */
export function attentionBackwardQKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionBackwardQKernel", spec, buildBackwardQ);
}

function buildBackwardQ(r: Resolved, { DQ, DV }: Dims): AttentionKernel {
  const R = r.rows, B = r.block;
  const l = layout(r, [...SAVED, ["dq", "read_write", "V"], ["delta", "read_write", "f32"]]);
  const z = (x: number, y: number) => r.dropout ? ` * keep(bh, row0 + ${x}u, j0 + ${y}u)` : "";
  const body = `${entry(r, "u.lq")}
${queryRows(r, (x) => [`let ls${x} = ${lse(l, `i${x}`)};`, `var dl${x} = 0.0;`])}
  for (var c = 0u; c < ${DV}u; c++) {
${lines(R, (x) => `    dl${x} += ${deltaTerm(l, `i${x}`, DV)};`)}
  }
${lines(R, (x) => `  if (row0 + ${x}u < u.lq) { delta[${l.off("delta")}i${x}] = dl${x}; }`)}
${keyBlocks(r, l, true)}
${
    each(R, B, (x, y) =>
      `    s${x}_${y} = exp(select(ninf, s${x}_${y} * u.scale${
        maskAt(r, l, `ri${x}`, `cj${y}`)
      }, j0 + ${y}u < u.end) - ls${x})
      * (t${x}_${y}${z(x, y)} - dl${x}) * u.scale;`)
  }
${foldQueries(r, l, { buf: "dq", n: DQ, from: "k", w: (x, y) => `s${x}_${y}` })}
    fresh = false;
  }
}
`;
  return describe("attention_bwd_q", "q", r, l, body, {
    perBlock: 2 * DQ + DV + 1,
    fixed: DV + 1,
  });
}

/**
 * Backward for dK and dV. Bindings: q, k, v, [mask], dout, ml, delta, dk, dv, uniforms. Each
 * invocation owns `rows` keys and streams the queries in blocks: tiles s = k·q and t = v·dO,
 * p = exp(s·scale + mask - lse_i), dv_j += z·p·dO_i, dk_j += scale·p·(z·t - delta_i)·q_i.
 */
export function attentionBackwardKVKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionBackwardKVKernel", spec, buildBackwardKV);
}

function buildBackwardKV(r: Resolved, { DQ, DV }: Dims): AttentionKernel {
  const l = layout(r, [
    ["dout", "read", "V"],
    ["ml", "read", "f32"],
    ["delta", "read", "f32"],
    ["dk", "read_write", "V"],
    ["dvo", "read_write", "V"],
  ]);
  const body = `${entry(r, "u.lk")}
${
    rowIndices({
      n: r.rows,
      pad: "  ",
      clamped: "rj",
      flat: "j",
      base: "row0",
      end: "u.lk",
      per: "u.lk",
    })
  }
  for (var i0 = u.start; i0 < u.end; i0 += ${r.block}u) {
${queryBlock(r, l, { pad: "    ", end: "u.end", valid: false })}
${
    keyTile(r, l, {
      pad: "    ",
      keys: "j",
      valid: (_, y) => `i0 + ${y}u < u.end`,
      keep: (x, y) => `i0 + ${y}u, row0 + ${x}u`,
    })
  }
${keyFolds(r, l, "j")}
    fresh = false;
  }
}
`;
  return describe("attention_bwd_kv", "kv", r, l, body, {
    perBlock: 2 * DQ + 2 * DV + 1,
    fixed: 1,
  });
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
  return memoAttention("attentionBackwardKernel", spec, buildBackwardOnePass);
}

function buildBackwardOnePass(r: Resolved, { DQ, DV }: Dims): AttentionKernel {
  const R = r.rows, B = r.block;
  const l = layout(r, [
    ...SAVED,
    ["delta", "read_write", "f32"],
    ["dq", "read_write", "V"],
    ["dk", "read_write", "V"],
    ["dvo", "read_write", "V"],
  ]);
  // The dQ fold runs over the transposed tile: owned rows are the streamed queries.
  const dqFold = foldRows(l, {
    buf: "dq",
    n: DQ,
    rows: B,
    block: R,
    row: (y) => `qi${y}`,
    b: (x) => l.vec("k", `kj${x}`, DQ),
    w: (y, x) => `s${x}_${y}`,
    fresh: "freshQ",
  });
  const body = `@compute @workgroup_size(${r.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bh = (wid.x + wid.y * 65535u) * ${r.wg}u + lid.x;
  if (bh >= u.bh) { return; }
  let ninf = bitcast<f32>(0xff800000u);
  if (u.first == 1u) {
    for (var i = 0u; i < u.lq; i++) {
      let qi = bh * u.lq + i;
      var dl = 0.0;
      for (var c = 0u; c < ${DV}u; c++) {
        dl += ${deltaTerm(l, "qi", DV)};
      }
      delta[${l.off("delta")}qi] = dl;
    }
  }
  for (var j0 = u.start; j0 < u.end; j0 += ${R}u) {
${keyRows(R, "    ", "rj", (x) => [`let vk${x} = j0 + ${x}u < u.end;`])}
    let freshQ = u.first == 1u && j0 == u.start;
    var fresh = true;
    for (var i0 = 0u; i0 < u.lq; i0 += ${B}u) {
${queryBlock(r, l, { pad: "      ", end: "u.lq", valid: true })}
${
    keyTile(r, l, {
      pad: "      ",
      keys: "kj",
      valid: (x, y) => `vk${x} && vq${y}`,
      keep: (x, y) => `i0 + ${y}u, j0 + ${x}u`,
    })
  }
${keyFolds(r, l, "kj")}
${dqFold}
      fresh = false;
    }
  }
}
`;
  return describe("attention_bwd", "bwd", r, l, body, {
    perBlock: 3 * DQ + 2 * DV + 1,
    fixed: DV + 1,
  });
}
