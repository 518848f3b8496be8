/**
 * conv2d weight-gradient partials over pixel splits (dense and grouped convs).
 *
 * @module
 */
import type { KernelSource } from "../gpu/kernel_source.ts";
import { CONV_WG, type ConvShape } from "./conv_shape.ts";
import { accDecl, convBindingKinds, convHeader, overTile } from "./conv_wgsl.ts";

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
@compute @workgroup_size(${CONV_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let KK = u.KH * u.KW;
  let K = u.CG * KK;
  let OT = (u.OG + TM - 1) / TM;
  let sp = i32(wid.y);
  let g = i32(wid.z) / OT;
  let ol0 = (i32(wid.z) % OT) * TM;
  let k0 = (i32(wid.x) * ${CONV_WG} + i32(lid.x)) * 4;
  let kv = vec4<i32>(k0, k0 + 1, k0 + 2, k0 + 3);
  let kok = kv < vec4<i32>(K);
  let kc = min(kv, vec4<i32>(K - 1));
  let HW = u.H * u.W;
  let xcoff = (g * u.CG + kc / KK) * HW + u.xOff;
  let dh = ((kc % KK) / u.KW) * u.DH - u.PH;
  let dw = (kc % u.KW) * u.DW - u.PW;
  let OHW = u.OH * u.OW;
  let P = u.N * OHW;
  let pBeg = sp * u.e0;
  let pEnd = min(P, pBeg + u.e0);
  ${accDecl(spec.named, tm)}
  var n = pBeg / OHW;
  var q = pBeg % OHW;
  var oh = q / u.OW;
  var ow = q % u.OW;
  let olast = u.OG - 1 - ol0;
  for (var pp = pBeg; pp < pEnd; pp++) {
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
    ow++;
    if (ow == u.OW) {
      ow = 0;
      oh++;
      if (oh == u.OH) { oh = 0; n++; }
    }
  }
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
  return {
    label: `conv2d_weight_grad[tm${tm}${spec.named ? ",named" : ""}]`,
    code,
    bindings: convBindingKinds(2),
    workgroupSize: [CONV_WG, 1, 1],
  };
}

/**
 * Splits and workgroups of `conv2dWeightGradKernel`: enough splits that about `target`
 * invocations run (lavapipe: a few hundred keep 2 cores x 8 lanes busy; a real GPU wants
 * thousands), each split at least `minPixels` long.
 */
export function conv2dWeightGradTiling(
  s: ConvShape,
  tm: number,
  target = 512,
  minPixels = 256,
): { splits: number; pixelsPerSplit: number; grid: [number, number, number] } {
  const K = (s.c / s.groups) * s.kh * s.kw;
  const gx = Math.ceil(K / (4 * CONV_WG));
  const gz = Math.ceil(s.o / s.groups / tm) * s.groups;
  const base = gx * CONV_WG * gz;
  const P = s.n * s.oh * s.ow;
  const want = Math.max(1, Math.min(Math.ceil(target / base), Math.floor(P / minPixels), 65535));
  const pixelsPerSplit = Math.ceil(P / want);
  const splits = Math.ceil(P / pixelsPerSplit);
  return { splits, pixelsPerSplit, grid: [gx, splits, gz] };
}
