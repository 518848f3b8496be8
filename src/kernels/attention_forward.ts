/**
 * The fused attention forward (online softmax over blocks of keys; see `attention.ts`).
 *
 * @module
 */
import type { AttentionKernel, AttentionSpec } from "./attention_spec.ts";
import {
  describe,
  type Dims,
  entry,
  foldQueries,
  keyBlocks,
  layout,
  lines,
  maskAt,
  memoAttention,
  queryRows,
  type Resolved,
} from "./attention_wgsl.ts";

/**
 * Forward. Bindings: q, k, v, [mask], out, ml, uniforms. Per block of keys: the score tile, the
 * online-softmax step per row (new max, rescale factor, p = exp(s - m)), then out = out·corr +
 * p·v (p times the dropout keep factor, which l ignores).
 */
export function attentionForwardKernel(spec: AttentionSpec): AttentionKernel {
  return memoAttention("attentionForwardKernel", spec, buildForward);
}

function buildForward(r: Resolved, { DQ, DV }: Dims): AttentionKernel {
  const R = r.rows, B = r.block;
  const l = layout(r, [["out", "read_write", "V"], ["ml", "read_write", "f32"]]);
  const ml = l.off("ml");
  const p = (x: number, y: number) =>
    r.dropout ? `(s${x}_${y} * keep(bh, row0 + ${x}u, j0 + ${y}u))` : `s${x}_${y}`;
  const out = (x: number) => l.vec("out", `i${x}`, DV);
  const body = `${entry(r, "u.lq")}
${
    queryRows(r, (x) => [
      `var m${x} = select(ml[${ml}i${x} * 2u], -3.0e38, fresh);`,
      `var l${x} = select(ml[${ml}i${x} * 2u + 1u], 0.0, fresh);`,
    ])
  }
${keyBlocks(r, l, false)}
${
    lines(R, (x) =>
      `${
        lines(B, (y) =>
          `    s${x}_${y} = select(ninf, s${x}_${y} * u.scale${
            maskAt(r, l, `ri${x}`, `cj${y}`)
          }, j0 + ${y}u < u.end);`)
      }
    var mx${x} = m${x};
${
        lines(B, (y) => `    mx${x} = max(mx${x}, s${x}_${y});`)
      }
    let corr${x} = exp(m${x} - mx${x});
    var sum${x} = 0.0;
${lines(B, (y) => `    s${x}_${y} = exp(s${x}_${y} - mx${x});\n    sum${x} += s${x}_${y};`)}
    l${x} = l${x} * corr${x} + sum${x};
    m${x} = mx${x};`)
  }
${foldQueries(r, l, { buf: "out", n: DV, from: "v", w: p, scale: (x) => `corr${x}` })}
    fresh = false;
  }
${
    lines(R, (x) =>
      `  let inv${x} = select(1.0, select(0.0, 1.0 / l${x}, l${x} > 0.0), u.last == 1u);
  if (row0 + ${x}u < u.lq) {
    ml[${ml}i${x} * 2u] = m${x};
    ml[${ml}i${x} * 2u + 1u] = l${x};
  }`)
  }
  if (u.last == 1u) {
    for (var c = 0u; c < ${DV}u; c++) {
${
    lines(R, (x) =>
      `      if (row0 + ${x}u < u.lq) {
        ${out(x)} =
          select(${out(x)} * inv${x}, V(0.0), fresh);
      }`)
  }
    }
  }
}
`;
  return describe("attention_fwd", "fwd", r, l, body, { perBlock: DQ + DV + 1, fixed: DV + 1 });
}
