/**
 * conv2d weight-gradient partials over pixel splits (dense and grouped convs).
 *
 * @module
 */
import type { KernelSource } from "../gpu/kernel_source.ts";
import { CONV_WG, type ConvShape, type SplitTiling, splitTiling } from "./conv_shape.ts";
import { accDecl, CONV_MAIN, convHeader, convKernel, overTile } from "./conv_wgsl.ts";

/**
 * WGSL: the head of the weight-gradient kernels: `KK`, `K` (columns per output channel), the
 * split `sp`, the `tm`-channel tile (`OT`, `g`, `ol0`; `TM` when `tm` is not given) and the
 * lane's first column `k0`, `cols` columns a lane.
 */
function gradHead(cols: number, tm?: number): string {
  return `${CONV_MAIN}
  let KK = u.KH * u.KW;
  let K = u.CG * KK;
  let OT = (u.OG + ${tm === undefined ? "TM - 1" : tm - 1}) / ${tm ?? "TM"};
  let sp = i32(wid.y);
  let g = i32(wid.z) / OT;
  let ol0 = (i32(wid.z) % OT) * ${tm ?? "TM"};
  let k0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * ${cols};`;
}

/**
 * WGSL: opens the loop over the pixels (n, oh, ow) of split `sp` (`e0` pixels a split), with
 * `acc` (the accumulators' declarations) before it; `PIXEL_STEP` advances and closes it.
 */
function pixelLoop(acc: string): string {
  return `let OHW = u.OH * u.OW;
  let P = u.N * OHW;
  let pBeg = sp * u.e0;
  let pEnd = min(P, pBeg + u.e0);
  ${acc}
  var n = pBeg / OHW;
  var q = pBeg % OHW;
  var oh = q / u.OW;
  var ow = q % u.OW;
  let olast = u.OG - 1 - ol0;
  for (var pp = pBeg; pp < pEnd; pp++) {`;
}

/** WGSL: steps `pixelLoop`'s pixel (n, oh, ow) and closes the loop. */
const PIXEL_STEP = `    ow++;
    if (ow == u.OW) {
      ow = 0;
      oh++;
      if (oh == u.OH) { oh = 0; n++; }
    }
  }`;

/**
 * Weight gradient partials: part[s, o, c, kh, kw] = sum over the pixels (n, oh, ow) of split s
 * of y[n, o, oh, ow] * x[n, g*CG + c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW]. Workgroup
 * (x, y, z) = (column-tile group, split, channel tile); each lane covers 4 consecutive columns
 * (c, kh, kw) flattened (a vec4) times `tm` output channels from the workgroup id. The pixel loop
 * is uniform, so the `tm` y loads per pixel are uniform and only the 4 x gathers diverge.
 * `splitSumKernel` adds the splits. Bindings: part (write, a fresh [splits, O, CG*KH*KW]), y, x,
 * uniforms; e0 = pixels per split. Dispatch: `conv2dWeightGradTiling`.
 */
export function conv2dWeightGradKernel(spec: { tm: number; named?: boolean }): KernelSource {
  const tm = Math.max(1, Math.floor(spec.tm));
  const code = `${convHeader("part: array<f32>", ["y: array<f32>", "x: array<f32>"])}
const TM = ${tm};
${gradHead(4)}
  let kv = vec4<i32>(k0, k0 + 1, k0 + 2, k0 + 3);
  let kok = kv < vec4<i32>(K);
  let kc = min(kv, vec4<i32>(K - 1));
  let HW = u.H * u.W;
  let xcoff = (g * u.CG + kc / KK) * HW + u.xOff;
  let dh = ((kc % KK) / u.KW) * u.DH - u.PH;
  let dw = (kc % u.KW) * u.DW - u.PW;
  ${pixelLoop(accDecl(spec.named, tm))}
    let ih = oh * u.SH + dh;
    let iw = ow * u.SW + dw;
    let ok = kok & (ih >= vec4<i32>(0)) & (ih < vec4<i32>(u.H)) & (iw >= vec4<i32>(0)) &
      (iw < vec4<i32>(u.W));
    let idx = select(vec4<i32>(0), ih * u.W + iw, ok) + xcoff + n * u.C * HW;
    let xv = select(vec4<f32>(0.0), vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), ok);
    let yb = u.yOff + (n * u.O + g * u.OG + ol0) * OHW + oh * u.OW + ow;
    ${
    overTile(spec.named, tm, (a) => `${a} = fma(vec4<f32>(y[yb + min(i, olast) * OHW]), xv, ${a});`)
  }
${PIXEL_STEP}
  ${
    overTile(spec.named, tm, (a) =>
      `let ol = ol0 + i;
    if (ol >= u.OG) { break; }
    let base = (sp * u.O + g * u.OG + ol) * K;
    for (var j = 0; j < 4; j++) {
      if (k0 + j < K) { part[base + k0 + j] = ${a}[j]; }
    }`, true)
  }
}
`;
  return convKernel(`conv2d_weight_grad[tm${tm}${spec.named ? ",named" : ""}]`, code);
}

/**
 * Splits and workgroups of `conv2dWeightGradKernel` with `vc` vec4 columns per lane: enough
 * splits that about `target` invocations run (lavapipe: a few hundred keep 2 cores x 8 lanes busy;
 * a real GPU wants thousands), each split at least `minPixels` long and at most 65535 (llvmpipe
 * ends a loop after 65535 iterations).
 */
export function conv2dWeightGradTiling(
  s: ConvShape,
  tm: number,
  target = 512,
  minPixels = 256,
  vc = 1,
): SplitTiling {
  const K = (s.c / s.groups) * s.kh * s.kw;
  const gx = Math.ceil(K / (4 * vc * CONV_WG));
  const gz = Math.ceil(s.o / s.groups / tm) * s.groups;
  return splitTiling(s.n * s.oh * s.ow, [gx, gz], {
    splitSize: gx * CONV_WG * gz,
    target,
    minItems: minPixels,
  });
}

/**
 * `conv2dWeightGradKernel`'s CPU-adapter form with `vc` vec4s of columns per lane (named
 * registers): each pixel's `tm` uniform y loads feed tm*vc vec4 FMAs instead of tm, and the pixel
 * bookkeeping is shared by 4*vc columns. Same bindings, uniforms and splits; dispatch
 * `conv2dWeightGradTiling(s, tm, target, minPixels, vc)`.
 */
export function conv2dWeightGradWideKernel(spec: { tm: number; vc: number }): KernelSource {
  const tm = Math.max(1, Math.floor(spec.tm)), vc = Math.max(1, Math.floor(spec.vc));
  const cols = Array.from(
    { length: vc },
    (_, v) =>
      `let kv${v} = vec4<i32>(k0 + ${4 * v}) + vec4<i32>(0, 1, 2, 3);
  let kok${v} = kv${v} < vec4<i32>(K);
  let kc${v} = min(kv${v}, vec4<i32>(K - 1));
  let xcoff${v} = (g * u.CG + kc${v} / KK) * HW + u.xOff;
  let dh${v} = ((kc${v} % KK) / u.KW) * u.DH - u.PH;
  let dw${v} = (kc${v} % u.KW) * u.DW - u.PW;`,
  ).join("\n  ");
  const gathers = Array.from({ length: vc }, (_, v) =>
    `let ih${v} = oh * u.SH + dh${v};
    let iw${v} = ow * u.SW + dw${v};
    let ok${v} = kok${v} & (ih${v} >= vec4<i32>(0)) & (ih${v} < vec4<i32>(u.H)) &
      (iw${v} >= vec4<i32>(0)) & (iw${v} < vec4<i32>(u.W));
    let idx${v} = select(vec4<i32>(0), ih${v} * u.W + iw${v}, ok${v}) + xcoff${v} + xn;
    let xv${v} = select(vec4<f32>(0.0),
      vec4<f32>(x[idx${v}.x], x[idx${v}.y], x[idx${v}.z], x[idx${v}.w]), ok${v});`).join(
      "\n    ",
    );
  const fmas = Array.from(
    { length: tm },
    (_, i) =>
      `{\nlet yv = vec4<f32>(y[yb + min(${i}, olast) * OHW]);\n${
        Array.from(
          { length: vc },
          (_, v) => `acc${i * vc + v} = fma(yv, xv${v}, acc${i * vc + v});`,
        ).join("\n")
      }\n}`,
  ).join("\n");
  const stores = Array.from({ length: tm }, (_, i) =>
    `loop {
    let ol = ol0 + ${i};
    if (ol >= u.OG) { break; }
    let base = (sp * u.O + g * u.OG + ol) * K;
    ${
      Array.from({ length: vc }, (_, v) =>
        `for (var j = 0; j < 4; j++) {
      if (k0 + ${4 * v} + j < K) { part[base + k0 + ${4 * v} + j] = acc${i * vc + v}[j]; }
    }`).join("\n    ")
    }
    break;
  }`).join("\n  ");
  const code = `${convHeader("part: array<f32>", ["y: array<f32>", "x: array<f32>"])}
${gradHead(4 * vc, tm)}
  let HW = u.H * u.W;
  ${cols}
  ${pixelLoop(accDecl(true, tm * vc))}
    let xn = n * u.C * HW;
    ${gathers}
    let yb = u.yOff + (n * u.O + g * u.OG + ol0) * OHW + oh * u.OW + ow;
${fmas}
${PIXEL_STEP}
  ${stores}
}
`;
  return convKernel(`conv2d_weight_grad_wide[tm${tm},vc${vc}]`, code);
}
