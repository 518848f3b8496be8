/**
 * WGSL snippets shared by the conv kernel generators (not part of the public kernels API): the
 * uniform struct and binding preamble, the register-tile helpers and the shifted row loads.
 *
 * @module
 */
import type { BindingKind } from "../gpu/kernel_source.ts";

/** WGSL: the uniform struct `U` that `convUniforms` fills. */
export const CONV_UNIFORMS = `struct U {
  N: i32, C: i32, H: i32, W: i32,
  O: i32, OH: i32, OW: i32, G: i32,
  KH: i32, KW: i32, SH: i32, SW: i32,
  PH: i32, PW: i32, DH: i32, DW: i32,
  CG: i32, OG: i32, xOff: i32, wOff: i32,
  yOff: i32, bOff: i32, gridX: i32, e0: i32,
  e1: i32, p0: i32, p1: i32, p2: i32,
};`;

/**
 * WGSL: the uniform struct and the bindings of a conv kernel: `out` (read_write, binding 0),
 * the `reads` (read-only, in order), with `bias` given an optional bias line (an empty line when
 * false, so every kernel keeps one layout of its source), then the uniforms.
 */
export function convHeader(out: string, reads: readonly string[], bias?: boolean): string {
  const lines = [CONV_UNIFORMS, `@group(0) @binding(0) var<storage, read_write> ${out};`];
  reads.forEach((r, i) => lines.push(`@group(0) @binding(${i + 1}) var<storage, read> ${r};`));
  let next = reads.length + 1;
  if (bias !== undefined) {
    lines.push(bias ? `@group(0) @binding(${next++}) var<storage, read> bias: array<f32>;` : "");
  }
  lines.push(`@group(0) @binding(${next}) var<uniform> u: U;`);
  return lines.join("\n");
}

/** Binding kinds matching `convHeader(out, reads, bias)` with `reads` inputs. */
export function convBindingKinds(reads: number, bias = false): BindingKind[] {
  return ["write", ...Array<BindingKind>(reads + (bias ? 1 : 0)).fill("read"), "uniform"];
}

/** WGSL: the `tm` accumulators, an array or (named) one vec4 register each. */
export function accDecl(named: boolean | undefined, count: number): string {
  return named
    ? Array.from({ length: count }, (_, i) => `var acc${i} = vec4<f32>(0.0);`).join("\n  ")
    : `var acc: array<vec4<f32>, ${count}>;`;
}

/**
 * WGSL: `body` over i < TM, as a loop over `acc[i]` or (named) unrolled into blocks that bind
 * `let i` and name register `acc<i>`; with `exit` each unrolled block is a one-pass `loop` so a
 * `break` in `body` leaves just that block.
 */
export function overTile(
  named: boolean | undefined,
  tm: number,
  body: (acc: string) => string,
  exit = false,
): string {
  if (!named) return `for (var i = 0; i < TM; i++) {\n${body("acc[i]")}\n}`;
  return Array.from(
    { length: tm },
    (_, i) =>
      `${exit ? "loop " : ""}{\nlet i = ${i};\n${body(`acc${i}`)}${exit ? "\nbreak;" : ""}\n}`,
  ).join("\n");
}

/**
 * WGSL: `load4s(e)` returns x[e..e+3] for any (unaligned, possibly negative) element index e
 * from a vec4 view: two aligned vec4 loads and a lane shift, chunks outside the buffer read as 0.
 * Lanes that fall outside the tensor must be masked by the caller.
 */
export function shiftedLoad(name: string): string {
  return `fn ${name}_chunk(q: i32) -> vec4<f32> {
  let L = i32(arrayLength(&${name}));
  return select(${name}[clamp(q, 0, L - 1)], vec4<f32>(0.0), q < 0 || q >= L);
}
fn ${name}_load4s(e: i32) -> vec4<f32> {
  let q = e >> 2u;
  let r = e & 3;
  let a = ${name}_chunk(q);
  let b = ${name}_chunk(q + 1);
  return select(select(select(a, vec4<f32>(a.yzw, b.x), r == 1), vec4<f32>(a.zw, b.xy), r == 2),
    vec4<f32>(a.w, b.xyz), r == 3);
}`;
}

/**
 * WGSL: loads the row window x[e .. e + 4*NC) as NC vec4s shifted into place (NC+1 aligned
 * vec4 loads), zeroing elements whose column (col0 + i) is outside [0, W).
 */
export function windowLoad(name: string, nc: number): string {
  return `fn ${name}_window(e: i32, col0: i32, W: i32) -> array<vec4<f32>, ${nc}> {
  var out: array<vec4<f32>, ${nc}>;
  let q = e >> 2u;
  let r = e & 3;
  var a = ${name}_chunk(q);
  for (var m = 0; m < ${nc}; m++) {
    let b = ${name}_chunk(q + m + 1);
    let s = select(select(select(a, vec4<f32>(a.yzw, b.x), r == 1), vec4<f32>(a.zw, b.xy), r == 2),
      vec4<f32>(a.w, b.xyz), r == 3);
    let col = vec4<i32>(col0 + 4 * m) + vec4<i32>(0, 1, 2, 3);
    out[m] = select(vec4<f32>(0.0), s, (col >= vec4<i32>(0)) & (col < vec4<i32>(W)));
    a = b;
  }
  return out;
}`;
}

/**
 * WGSL (named form of `windowLoad` + the tap shifts): lets win0..win<nc-1> = the row window
 * x[e .. e + 4*nc) shifted into place and masked to columns col0 + i in [0, W), as registers
 * (`tag` prefixes every name, so two windows can live in one scope).
 */
export function namedWindow(
  name: string,
  nc: number,
  e: string,
  col0: string,
  W: string,
  tag = "",
): string {
  const out = [
    `let ${tag}we = ${e};`,
    `let ${tag}wq = ${tag}we >> 2u;`,
    `let ${tag}wsh = ${tag}we & 3;`,
  ];
  for (let m = 0; m <= nc; m++) out.push(`let ${tag}ch${m} = ${name}_chunk(${tag}wq + ${m});`);
  const sh = `${tag}wsh`;
  for (let m = 0; m < nc; m++) {
    const a = `${tag}ch${m}`, b = `${tag}ch${m + 1}`, wc = `${tag}wc${m}`;
    out.push(
      `let ${wc} = vec4<i32>(${col0} + ${4 * m}) + vec4<i32>(0, 1, 2, 3);`,
      `let ${tag}win${m} = select(vec4<f32>(0.0), select(select(select(${a}, vec4<f32>(${a}.yzw, ${b}.x), ` +
        `${sh} == 1), vec4<f32>(${a}.zw, ${b}.xy), ${sh} == 2), vec4<f32>(${a}.w, ${b}.xyz), ${sh} == 3), ` +
        `(${wc} >= vec4<i32>(0)) & (${wc} < vec4<i32>(${W})));`,
    );
  }
  return out.join("\n");
}

/** WGSL: the vec4 starting `s` elements into the named window (s known when generating). */
export function winAt(s: number): string {
  const q = Math.floor(s / 4), r = s % 4;
  const a = `win${q}`, b = `win${q + 1}`;
  return r === 0
    ? a
    : r === 1
    ? `vec4<f32>(${a}.yzw, ${b}.x)`
    : r === 2
    ? `vec4<f32>(${a}.zw, ${b}.xy)`
    : `vec4<f32>(${a}.w, ${b}.xyz)`;
}

/**
 * WGSL: the epilogue of the row-tiled forward kernels (`conv2dForwardRowKernel`,
 * `conv2dForwardStridedKernel`): `tm` channels x `vp` vec4s of output row `oh` from `ow0`.
 */
export function rowStores(
  named: boolean | undefined,
  tm: number,
  vp: number,
  bias: boolean,
): string {
  const b = bias ? " + vec4<f32>(bias[u.bOff + o])" : "";
  const store = (v: string, acc: string) =>
    `let r = ${acc}${b};
      for (var j = 0; j < 4; j++) {
        let ow = ow0 + ${v} * 4 + j;
        if (ow < u.OW) { y[base + ow] = r[j]; }
      }`;
  const head = (i: string) =>
    `let ol = ol0 + ${i};
    if (ol >= u.OG) { break; }
    let o = g * u.OG + ol;
    let base = u.yOff + (n * u.O + o) * OHW + oh * u.OW;`;
  if (!named) {
    return `for (var i = 0; i < TM; i++) {
    ${head("i")}
    for (var v = 0; v < VP; v++) {
      ${store("v", "acc[i * VP + v]")}
    }
  }`;
  }
  return Array.from(
    { length: tm },
    (_, i) =>
      `loop {\n${head(String(i))}\n${
        Array.from({ length: vp }, (_, v) => `{\n${store(String(v), `acc${i * vp + v}`)}\n}`).join(
          "\n",
        )
      }\nbreak;\n}`,
  ).join("\n");
}
