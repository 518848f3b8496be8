/**
 * WGSL snippets shared by the conv kernel generators (not part of the public kernels API): the
 * uniform struct and binding preamble, the register-tile helpers and the shifted row loads.
 *
 * @module
 */
import type { BindingKind, KernelSource } from "../gpu/kernel_source.ts";
import { CONV_WG } from "./conv_shape.ts";

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

/**
 * The descriptor of a conv kernel: `convBindingKinds(reads, bias)` bindings and the 8 x 1 x 1
 * workgroup every conv kernel uses.
 */
export function convKernel(
  label: string,
  code: string,
  opts: { reads?: number; bias?: boolean } = {},
): KernelSource {
  return {
    label,
    code,
    bindings: convBindingKinds(opts.reads ?? 2, opts.bias),
    workgroupSize: [CONV_WG, 1, 1],
  };
}

/** Label suffix of the tile options: `,bias` and `,named` when set. */
export function tileFlags(spec: { bias?: boolean; named?: boolean }): string {
  return `${spec.bias ? ",bias" : ""}${spec.named ? ",named" : ""}`;
}

/** WGSL: the entry point of a workgroup-tiled conv kernel (opens `main`'s body). */
export const CONV_MAIN = `@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`;

/**
 * WGSL: the channel tile of workgroup z over the `per` channels of a group (`OG`: output
 * channels, lets `OT`, `g`, `ol0`; `CG`: input channels, lets `CT`, `g`, `cl0`), `tm` channels
 * a tile (the `TM` constant when not given).
 */
export function channelTile(per: "OG" | "CG", tm?: number): string {
  const [t, l] = per === "OG" ? ["OT", "ol"] : ["CT", "cl"];
  return `let ${t} = (u.${per} + ${tm === undefined ? "TM - 1" : tm - 1}) / ${tm ?? "TM"};
  let g = i32(wid.z) / ${t};
  let ${l}0 = (i32(wid.z) % ${t}) * ${tm ?? "TM"};`;
}

/**
 * WGSL: the head of one channel's store block in a `channelTile` tile: lets the channel's index
 * `ol` / `cl` in the group (leaving the block past the group's end) and `o` / `c` overall.
 */
function channelHead(per: "OG" | "CG", i: string): string {
  const [l, c] = per === "OG" ? ["ol", "o"] : ["cl", "c"];
  return `let ${l} = ${l}0 + ${i};
    if (${l} >= u.${per}) { break; }
    let ${c} = g * u.${per} + ${l};`;
}

/**
 * WGSL: lets `count` (the pixels of a plane, `expr`) and the lane's 4 consecutive pixels `p`
 * (first `p0`, valid lanes `pv`) of the pixel-tiled kernels.
 */
export function pixelLanes(count: string, expr: string): string {
  return `let ${count} = ${expr};
  let p0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * 4;
  let p = vec4<i32>(p0, p0 + 1, p0 + 2, p0 + 3);
  let pv = p < vec4<i32>(${count});`;
}

/**
 * The two roles of the pixel-tiled implicit GEMM: the forward conv (y from x, tiles of output
 * channels over output pixels) and the input gradient (out from y, tiles of input channels over
 * input pixels): output and read bindings, the channels a tile covers (see `channelTile`) and the
 * plane's pixel count (see `pixelLanes`).
 */
const PIXEL_TILE_ROLES = {
  forward: {
    out: "y: array<f32>",
    reads: ["x: array<f32>", "w: array<f32>"],
    per: "OG",
    plane: ["OHW", "u.OH * u.OW"],
  },
  inputGrad: {
    out: "out: array<f32>",
    reads: ["y: array<f32>", "w: array<f32>"],
    per: "CG",
    plane: ["HW", "u.H * u.W"],
  },
} as const;

/**
 * WGSL: the head of the pixel-tiled kernels (`conv2dForwardKernel`, `conv2dInputGradKernel`: one
 * tiling, roles swapped) up to their lanes: bindings, `TM`, `main`, image `n`, the channel tile
 * and the lane's 4 pixels.
 */
export function pixelTileHead(
  spec: { tm: number; bias: boolean },
  role: keyof typeof PIXEL_TILE_ROLES,
): string {
  const io = PIXEL_TILE_ROLES[role];
  return `${convHeader(io.out, io.reads, spec.bias)}
const TM = ${spec.tm};
${CONV_MAIN}
  let n = i32(wid.y);
  ${channelTile(io.per)}
  ${pixelLanes(io.plane[0], io.plane[1])}`;
}

/**
 * WGSL: the prelude of the depthwise kernels on an `x` row window: the `KW` and `DW` constants,
 * x's shifted loads and (array form) its `nc`-vec4 window load.
 */
export function depthwisePrelude(kw: number, dw: number, nc: number, named?: boolean): string {
  return `const KW = ${kw};
const DW = ${dw};
${shiftedLoad("x")}
${named ? "" : windowLoad("x", nc)}`;
}

/**
 * WGSL: the epilogue of the pixel-tiled kernels (`conv2dForwardKernel`, the input gradients):
 * per channel of the `tm` tile, `v` = its vec4 accumulator (+ bias), `base` = `base`, then
 * `store` for each lane j < 4.
 */
export function channelStores(
  named: boolean | undefined,
  tm: number,
  bias: boolean,
  per: "OG" | "CG",
  where: { base: string; store: string },
): string {
  const c = per === "OG" ? "o" : "c";
  return overTile(named, tm, (a) =>
    `${channelHead(per, "i")}
    let v = ${a}${bias ? ` + vec4<f32>(bias[u.bOff + ${c}])` : ""};
    let base = ${where.base};
    for (var j = 0; j < 4; j++) {
      ${where.store}
    }`, true);
}

/**
 * WGSL: the (channel, kernel row) sweep of the forward kernels: lets `K` (weights per output
 * channel, `kw` taps a kernel row), `wb` / `wlast` (the tile's first and the group's last weight
 * row), `HW`, the channel's input plane `xc` and the weight column `k`, and runs `body` for each
 * input channel c of the group and kernel row kh with `ih` = ih0 + kh*DH (`body` advances k).
 */
export function forwardSweep(kw: string, body: string): string {
  return `let K = u.CG * u.KH * ${kw};
  let wb = u.wOff + (g * u.OG + ol0) * K;
  let wlast = u.wOff + (g * u.OG + u.OG - 1) * K;
  let HW = u.H * u.W;
  var xc = u.xOff + (n * u.C + g * u.CG) * HW;
  var k = 0;
  for (var c = 0; c < u.CG; c++) {
    for (var kh = 0; kh < u.KH; kh++) {
      let ih = ih0 + kh * u.DH;
${body}
    }
    xc += HW;
  }`;
}

/**
 * WGSL: the vec4 starting r (0..3) elements into the pair of vec4s a, b: the lane shift of every
 * unaligned load here. `wraps` are the separators at its three break points (after the r == 1
 * and r == 2 arms, before the r == 3 condition), so callers keep their line layout.
 */
export function shiftSelect(
  a: string,
  b: string,
  r: string,
  wraps: readonly [string, string, string] = [" ", " ", " "],
): string {
  return `select(select(select(${a}, vec4<f32>(${a}.yzw, ${b}.x), ${r} == 1),${wraps[0]}` +
    `vec4<f32>(${a}.zw, ${b}.xy), ${r} == 2),${wraps[1]}vec4<f32>(${a}.w, ${b}.xyz),${wraps[2]}` +
    `${r} == 3)`;
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
  return ${shiftSelect("a", "b", "r", [" ", "\n    ", " "])};
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
    let s = ${shiftSelect("a", "b", "r", [" ", "\n      ", " "])};
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
      `let ${tag}win${m} = select(vec4<f32>(0.0), ${shiftSelect(a, b, sh)}, ` +
        `(${wc} >= vec4<i32>(0)) & (${wc} < vec4<i32>(${W})));`,
    );
  }
  return out.join("\n");
}

/**
 * WGSL lines (joined at indent `ind`): `v0`, `v1` = the 8 values starting k*DW elements into the
 * array window `win` of `windowLoad` (the non-named depthwise kernels' taps). `v1`'s second line
 * break falls before its r == 3 `"arm"` or its r == 3 `"condition"`.
 */
export function windowTapPair(ind: string, v1Wrap: "arm" | "condition"): string {
  const wrap = `\n${ind}  `;
  const v1: [string, string, string] = v1Wrap === "arm" ? [wrap, wrap, " "] : [wrap, " ", wrap];
  return [
    "let s = k * DW;",
    "let q = s / 4;",
    "let r = s % 4;",
    `let v0 = ${shiftSelect("win[q]", "win[q + 1]", "r", [wrap, " ", " "])};`,
    `let v1 = ${shiftSelect("win[q + 1]", "win[q + 2]", "r", v1)};`,
  ].join(`\n${ind}`);
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
    `${channelHead("OG", i)}
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
