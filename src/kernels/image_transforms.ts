import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";

/**
 * Training-image augmentation kernels (the GPU side of the data transforms): unpack uint8 RGB,
 * flip, affine warp with fill, PIL's fixed-point bilinear resize, colour jitter with PIL's
 * float32 blends, grayscale, and to-tensor + normalise through per-byte tables.
 *
 * Pixels between kernels are one u32 each, `r | g << 8 | b << 16`, row-major. Every kernel
 * runs one invocation per output pixel in 256-wide workgroups over a 2-D grid
 * (`imageGrid(pixels)`): pixel index = gid.x + gid.y * gridX.
 */

/** Workgroup width of every image kernel. */
export const IMAGE_WG = 256;

/** A 2-D grid of 256-wide workgroups covering `pixels` invocations. */
export function imageGrid(pixels: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(pixels / IMAGE_WG));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

const HEAD = `fn pidx(gid: vec3<u32>, gridX: u32) -> u32 { return gid.x + gid.y * gridX; }
fn px(r: u32, g: u32, b: u32) -> u32 { return r | (g << 8u) | (b << 16u); }
fn ch(p: u32, c: u32) -> u32 { return (p >> (8u * c)) & 255u; }
`;

/**
 * Unpacks interleaved RGB bytes (the decoder's layout, read as u32 words) into pixels,
 * mirrored left-right when `flip` is 1. Layout: src = w*h*3 bytes, out = w*h pixels.
 * Bindings: out (write), src, uniforms {w, h, flip, gridX}.
 */
export function unpackRgbKernel(): KernelSource {
  return memoKernel("image_unpack_rgb", () => ({
    label: "image_unpack_rgb",
    bindings: ["write", "read", "uniform"],
    workgroupSize: [IMAGE_WG, 1, 1],
    code: `${HEAD}
struct U { w: u32, h: u32, flip: u32, gridX: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<uniform> u: U;
fn byteAt(i: u32) -> u32 { return (src[i >> 2u] >> (8u * (i & 3u))) & 255u; }
@compute @workgroup_size(${IMAGE_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = pidx(gid, u.gridX);
  if (i >= u.w * u.h) { return; }
  let y = i / u.w;
  var x = i % u.w;
  if (u.flip == 1u) { x = u.w - 1u - x; }
  let s = (y * u.w + x) * 3u;
  out[i] = px(byteAt(s), byteAt(s + 1u), byteAt(s + 2u));
}`,
  }));
}

/**
 * Mirrors pixels left-right. Layout: src and out w*h pixels.
 * Bindings: out (write), src, uniforms {w, h, 0, gridX}.
 */
export function flipPixelsKernel(): KernelSource {
  return memoKernel("image_flip", () => ({
    label: "image_flip",
    bindings: ["write", "read", "uniform"],
    workgroupSize: [IMAGE_WG, 1, 1],
    code: `${HEAD}
struct U { w: u32, h: u32, p0: u32, gridX: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(${IMAGE_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = pidx(gid, u.gridX);
  if (i >= u.w * u.h) { return; }
  let y = i / u.w;
  out[i] = src[y * u.w + (u.w - 1u - i % u.w)];
}`,
  }));
}

/**
 * PIL's `Image.transform(AFFINE)`: output pixel centre through the inverse matrix (f32 here,
 * double in PIL); outside [0, w) x [0, h) gives the fill; bilinear or PIL's a = -1 bicubic
 * with clamped edges, truncated. `flip` reads the source mirrored (a flip fused before the
 * warp). Layout: src and out w*h pixels. Bindings: out (write), src, uniforms
 * {m0..m5: f32, w, h, fill (pixel), flip, gridX, 3 x pad}.
 */
export function affinePixelsKernel(interpolation: "bilinear" | "bicubic"): KernelSource {
  const key = `image_affine_${interpolation}`;
  return memoKernel(key, () => {
    const sample = interpolation === "bilinear"
      ? `let x0 = fx(xi); let x1 = fx(xi + 1);
  let ra = clampi(yi, u.h) * u.w;
  let hasB = yi + 1 >= 0 && yi + 1 < i32(u.h);
  let rb = select(ra, u32(yi + 1) * u.w, hasB);
  var o = 0u;
  for (var c = 0u; c < 3u; c++) {
    let p = f32(ch(src[ra + x0], c)); let q = f32(ch(src[ra + x1], c));
    let v1 = p + (q - p) * dx;
    let s = f32(ch(src[rb + x0], c)); let t = f32(ch(src[rb + x1], c));
    let v2 = s + (t - s) * dx;
    let v = v1 + (v2 - v1) * dy;
    o |= u32(clamp(v, 0.0, 255.0)) << (8u * c);
  }
  out[i] = o;`
      : `var o = 0u;
  for (var c = 0u; c < 3u; c++) {
    var r: array<f32, 4>;
    for (var j = 0; j < 4; j++) {
      let row = clampi(yi - 1 + j, u.h) * u.w;
      r[j] = cubic(f32(ch(src[row + fx(xi - 1)], c)), f32(ch(src[row + fx(xi)], c)),
                   f32(ch(src[row + fx(xi + 1)], c)), f32(ch(src[row + fx(xi + 2)], c)), dx);
    }
    let v = cubic(r[0], r[1], r[2], r[3], dy);
    o |= u32(clamp(v, 0.0, 255.0)) << (8u * c);
  }
  out[i] = o;`;
    return {
      label: key,
      bindings: ["write", "read", "uniform"],
      workgroupSize: [IMAGE_WG, 1, 1],
      code: `${HEAD}
struct U { m0: f32, m1: f32, m2: f32, m3: f32, m4: f32, m5: f32, w: u32, h: u32,
           fill: u32, flip: u32, gridX: u32, p0: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<uniform> u: U;
fn clampi(v: i32, n: u32) -> u32 { return u32(clamp(v, 0, i32(n) - 1)); }
fn fx(x: i32) -> u32 {
  let c = clampi(x, u.w);
  return select(c, u.w - 1u - c, u.flip == 1u);
}
fn cubic(v1: f32, v2: f32, v3: f32, v4: f32, d: f32) -> f32 {
  let p2 = -v1 + v3; let p3 = 2.0 * (v1 - v2) + v3 - v4; let p4 = -v1 + v2 - v3 + v4;
  return v2 + d * (p2 + d * (p3 + d * p4));
}
@compute @workgroup_size(${IMAGE_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = pidx(gid, u.gridX);
  if (i >= u.w * u.h) { return; }
  let xc = f32(i % u.w) + 0.5;
  let yc = f32(i / u.w) + 0.5;
  var xin = u.m0 * xc + u.m1 * yc + u.m2;
  var yin = u.m3 * xc + u.m4 * yc + u.m5;
  if (xin < 0.0 || xin >= f32(u.w) || yin < 0.0 || yin >= f32(u.h)) { out[i] = u.fill; return; }
  xin -= 0.5;
  yin -= 0.5;
  let xf = floor(xin); let yf = floor(yin);
  let dx = xin - xf; let dy = yin - yf;
  let xi = i32(xf); let yi = i32(yf);
  ${sample}
}`,
    };
  });
}

/**
 * One pass of PIL's bilinear resize in 22-bit fixed point (exact, as `ImagingResample`).
 * `table` (i32) holds per output index: first input index, tap count, then `k` weights.
 * Horizontal: out[y, ox] (outW x rows) = sum_j wt * src[y + rowOff, first + j].
 * Vertical: out[oy, x] (outW x outH) = sum_j wt * src[first - rowOff + j, x].
 * Bindings: out (write), src, table, uniforms {inW, outW, outH, k, rowOff, gridX, 2 x pad}.
 */
export function resizePixelsKernel(axis: "h" | "v"): KernelSource {
  const key = `image_resize_${axis}`;
  return memoKernel(key, () => {
    const fetch = axis === "h"
      ? "src[(y + u.rowOff) * u.inW + u32(first + j)]"
      : "src[(u32(first + j) - u.rowOff) * u.inW + x]";
    return {
      label: key,
      bindings: ["write", "read", "read", "uniform"],
      workgroupSize: [IMAGE_WG, 1, 1],
      code: `${HEAD}
struct U { inW: u32, outW: u32, outH: u32, k: u32, rowOff: u32, gridX: u32, p0: u32, p1: u32 };
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<i32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${IMAGE_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = pidx(gid, u.gridX);
  if (i >= u.outW * u.outH) { return; }
  let x = i % u.outW;
  let y = i / u.outW;
  let row = ${axis === "h" ? "x" : "y"} * (u.k + 2u);
  let first = table[row];
  let n = table[row + 1u];
  var a = vec3<i32>(1 << 21u);
  for (var j = 0; j < n; j++) {
    let p = ${fetch};
    let wt = table[row + 2u + u32(j)];
    a += wt * vec3<i32>(i32(p & 255u), i32((p >> 8u) & 255u), i32((p >> 16u) & 255u));
  }
  let v = clamp(a >> vec3<u32>(22u), vec3<i32>(0), vec3<i32>(255));
  out[i] = px(u32(v.x), u32(v.y), u32(v.z));
}`,
    };
  });
}

/** Pixels each invocation of the "sum" colour kernel adds up (dispatch `imageGrid(n / 8)`). */
export const SUM_PIXELS = 8;

/** Colour step kinds in the `steps` buffer of {@linkcode colorPixelsKernel}. */
export const COLOR_BRIGHTNESS = 0, COLOR_CONTRAST = 1, COLOR_SATURATION = 2, COLOR_GRAY = 4;

/**
 * Colour steps on every pixel, then one of three outputs:
 * - "sum": adds the PIL "L" luma of the result into `sums[u.slot]` (`SUM_PIXELS` pixels per
 *   invocation, strided by the workgroup width; workgroup tree sum; one atomic per
 *   workgroup): the mean a later contrast step blends towards;
 * - "pixels": writes the pixels;
 * - "tensor": writes normalised float32 CHW (`out[off + c * n + i] = lut[c * 256 + byte]`).
 * The step kinds are compiled in (straight-line code: a loop over a step list in a buffer
 * ran ~7x slower on lavapipe). Blend step j (counting blends only) reads its 511 products at
 * `prods[511 j ...]`; contrast step k reads the mean of `sums[k]`. A blend is PIL's
 * `ImagingBlend` in float32: byte = trunc(clip(base + prods[off + v - base + 255])), with base
 * 0 (brightness), the mean floor((2 sum + n) / 2n) (contrast) or the pixel's luma
 * (saturation); the products f32(alpha * d) come from the host, so no fused multiply-add can
 * change the rounding. Layout: src n pixels.
 * Bindings: out|sums (write), src, prods, [sums (read), lut: "tensor" / "pixels"],
 * uniforms {n, slot, outOff, gridX}.
 */
export function colorPixelsKernel(
  output: "sum" | "pixels" | "tensor",
  kinds: readonly number[],
): KernelSource {
  const key = `image_color_${output}_${kinds.join("")}`;
  return memoKernel(key, () => {
    const sumOut = output === "sum";
    const binds = sumOut
      ? `@group(0) @binding(0) var<storage, read_write> sums: array<atomic<u32>>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> prods: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
var<workgroup> part: array<u32, ${IMAGE_WG}>;
fn meanOf(slot: u32) -> u32 { return (2u * atomicLoad(&sums[slot]) + u.n) / (2u * u.n); }`
      : `@group(0) @binding(0) var<storage, read_write> out: array<${
        output === "tensor" ? "f32" : "u32"
      }>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> prods: array<f32>;
@group(0) @binding(3) var<storage, read> sums: array<u32>;
@group(0) @binding(4) var<storage, read> lut: array<f32>;
@group(0) @binding(5) var<uniform> u: U;
fn meanOf(slot: u32) -> u32 { return (2u * sums[slot] + u.n) / (2u * u.n); }`;
    let blends = 0, contrasts = 0;
    const means: string[] = [];
    const body = kinds.map((k) => {
      if (k === COLOR_GRAY) return "  c = vec3<u32>(luma(c));";
      const off = 511 * blends++;
      if (k === COLOR_BRIGHTNESS) return `  c = blend(0u, c, ${off}u);`;
      if (k === COLOR_SATURATION) return `  c = blend(luma(c), c, ${off}u);`;
      if (k === COLOR_CONTRAST) {
        means.push(`  let mean${contrasts} = meanOf(${contrasts}u);`);
        return `  c = blend(mean${contrasts++}, c, ${off}u);`;
      }
      throw new RangeError(`colorPixelsKernel: unknown step kind ${k}`);
    }).join("\n");
    const tail = sumOut
      ? `    acc += select(0u, luma(c), inside);
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${IMAGE_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { atomicAdd(&sums[u.slot], part[0]); }`
      : output === "pixels"
      ? `  if (inside) { out[i] = px(c.x, c.y, c.z); }`
      : `  if (inside) {
    out[u.outOff + i] = lut[c.x];
    out[u.outOff + u.n + i] = lut[256u + c.y];
    out[u.outOff + 2u * u.n + i] = lut[512u + c.z];
  }`;
    return {
      label: key,
      bindings: sumOut
        ? ["write", "read", "read", "uniform"]
        : ["write", "read", "read", "read", "read", "uniform"],
      workgroupSize: [IMAGE_WG, 1, 1],
      code: `${HEAD}
struct U { n: u32, slot: u32, outOff: u32, gridX: u32 };
${binds}
fn luma(c: vec3<u32>) -> u32 { return (c.x * 19595u + c.y * 38470u + c.z * 7471u + 32768u) >> 16u; }
fn blend(base: u32, v: vec3<u32>, off: u32) -> vec3<u32> {
  let b = f32(base);
  let o = off + 255u - base;
  let t = vec3<f32>(b + prods[o + v.x], b + prods[o + v.y], b + prods[o + v.z]);
  return vec3<u32>(clamp(t, vec3<f32>(0.0), vec3<f32>(255.0)));
}
@compute @workgroup_size(${IMAGE_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
${means.join("\n")}
${
        sumOut
          ? `  let lid = gid.x % ${IMAGE_WG}u;
  let first = (pidx(gid, u.gridX) - lid) * ${SUM_PIXELS}u + lid;
  var acc = 0u;
  for (var j = 0u; j < ${SUM_PIXELS}u; j++) {
    let i = first + j * ${IMAGE_WG}u;`
          : "  let i = pidx(gid, u.gridX);"
      }
  let inside = i < u.n;
  let p = src[min(i, u.n - 1u)];
  var c = vec3<u32>(p & 255u, (p >> 8u) & 255u, (p >> 16u) & 255u);
${body}
${tail}
}`,
    };
  });
}
