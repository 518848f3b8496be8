/**
 * Per-axis tap tables of F.interpolate, following PyTorch's CPU kernels
 * (aten/src/ATen/native/UpSample.h and UpSampleKernel.cpp): which input indices each output index
 * reads and with which weights, and the transposed table the backward scatters with.
 */

/** Interpolation modes `interpolate` supports. */
export type InterpolateMode = "nearest" | "bilinear" | "bicubic";

/** Per output index: first input index and the weights of consecutive inputs from there. */
export interface AxisTable {
  first: Int32Array;
  weights: number[][];
}

/** PyTorch's area_pixel_compute_scale (scale factor given: 1/sf unless align_corners). */
function pixelScale(inp: number, out: number, alignCorners: boolean, sf?: number): number {
  if (alignCorners) return out > 1 ? (inp - 1) / (out - 1) : 0;
  return sf !== undefined && sf > 0 ? 1 / sf : inp / out;
}

/** Keys' cubic convolution weights for the 4 taps at offset t in [0, 1), A = -0.75. */
function cubic(t: number): number[] {
  const A = -0.75;
  const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)];
}

/** Merges (index, weight) taps into a run of consecutive indices (clamped duplicates add up). */
function run(idx: number[], wt: number[]): { first: number; w: number[] } {
  const first = Math.min(...idx), last = Math.max(...idx);
  const w = new Array<number>(last - first + 1).fill(0);
  idx.forEach((i, k) => w[i - first] += wt[k]);
  return { first, w };
}

/**
 * The tap table of one axis. Nearest: src = min(floor(dst * scale), in - 1) in float32 like
 * PyTorch (scale = in/out or 1/scaleFactor), exact for out == in and out == 2*in. Bilinear:
 * src = scale*(dst + 0.5) - 0.5 clamped at 0 (or dst*scale with align_corners), two taps. Bicubic:
 * the same source index unclamped, 4 taps clamped to [0, in - 1]. Antialias (bilinear, no
 * align_corners): a triangle filter of half-width max(scale, 1) around scale*(dst + 0.5),
 * normalised per output index.
 */
export function axisTable(
  inp: number,
  out: number,
  mode: InterpolateMode,
  alignCorners: boolean,
  antialias: boolean,
  sf?: number,
): AxisTable {
  const first = new Int32Array(out);
  const weights: number[][] = [];
  const push = (o: number, r: { first: number; w: number[] }) => {
    first[o] = r.first;
    weights.push(r.w);
  };
  if (antialias) {
    const scale = pixelScale(inp, out, false, sf);
    const support = scale >= 1 ? scale : 1;
    const inv = scale >= 1 ? 1 / scale : 1;
    for (let o = 0; o < out; o++) {
      const center = scale * (o + 0.5);
      const lo = Math.max(Math.trunc(center - support + 0.5), 0);
      const hi = Math.min(Math.trunc(center + support + 0.5), inp);
      const w: number[] = [];
      let total = 0;
      for (let j = lo; j < hi; j++) {
        const v = Math.max(0, 1 - Math.abs((j - center + 0.5) * inv));
        w.push(v);
        total += v;
      }
      push(o, { first: lo, w: total !== 0 ? w.map((v) => v / total) : w });
    }
    return { first, weights };
  }
  const scale = pixelScale(inp, out, alignCorners, sf);
  const s32 = Math.fround(sf !== undefined && sf > 0 ? 1 / sf : inp / out);
  for (let o = 0; o < out; o++) {
    if (mode === "nearest") {
      const src = out === inp
        ? o
        : out === 2 * inp
        ? o >> 1
        : Math.min(Math.floor(Math.fround(o * s32)), inp - 1);
      push(o, { first: src, w: [1] });
    } else if (mode === "bilinear") {
      let real = alignCorners ? scale * o : scale * (o + 0.5) - 0.5;
      if (!alignCorners && real < 0) real = 0;
      const i0 = Math.min(Math.floor(real), inp - 1);
      const l = Math.min(Math.max(real - i0, 0), 1);
      push(o, i0 < inp - 1 ? { first: i0, w: [1 - l, l] } : { first: i0, w: [1] });
    } else {
      const real = alignCorners ? scale * o : scale * (o + 0.5) - 0.5;
      const f = Math.floor(real);
      const idx = [0, 1, 2, 3].map((k) => Math.min(Math.max(f - 1 + k, 0), inp - 1));
      push(o, run(idx, cubic(real - f)));
    }
  }
  return { first, weights };
}

/** The transposed table: per input index, the consecutive outputs that read it and weights. */
export function transposeTable(t: AxisTable, inp: number): AxisTable {
  const taps: { o: number; w: number }[][] = Array.from({ length: inp }, () => []);
  t.weights.forEach((ws, o) => ws.forEach((w, j) => taps[t.first[o] + j].push({ o, w })));
  const first = new Int32Array(inp);
  const weights: number[][] = [];
  taps.forEach((list, i) => {
    if (list.length === 0) {
      first[i] = 0;
      weights.push([]);
      return;
    }
    const r = run(list.map((e) => e.o), list.map((e) => e.w));
    first[i] = r.first;
    weights.push(r.w);
  });
  return { first, weights };
}

/** Whether the table maps index i to index i with weight 1 (the axis pass can be skipped). */
export function isIdentity(t: AxisTable, inp: number): boolean {
  return t.first.length === inp &&
    t.weights.every((w, o) => t.first[o] === o && w[0] === 1 && w.slice(1).every((v) => v === 0));
}

/** Packs a table as f32 rows [first, count, w0 .. w(T-1)]; returns the data and T. */
export function packTable(t: AxisTable): { data: Float32Array; taps: number } {
  const taps = Math.max(1, ...t.weights.map((w) => w.length));
  const data = new Float32Array(t.first.length * (taps + 2));
  t.weights.forEach((w, o) => {
    const r = o * (taps + 2);
    data[r] = t.first[o];
    data[r + 1] = w.length;
    data.set(w, r + 2);
  });
  return { data, taps };
}
