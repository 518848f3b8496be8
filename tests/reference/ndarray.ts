/**
 * Float64 CPU reference implementations used only by tests: plain loops, no cleverness, so a
 * disagreement with the GPU points at the kernel.
 */

/** A float64 n-d array (row-major). */
export interface Nd {
  shape: number[];
  data: Float64Array;
}

/** Wraps data. */
export function nd(data: ArrayLike<number>, shape: readonly number[]): Nd {
  return { shape: [...shape], data: Float64Array.from(data) };
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Broadcast shape (throws when incompatible). */
export function bshape(...shapes: number[][]): number[] {
  const r = Math.max(...shapes.map((s) => s.length));
  const out = new Array(r).fill(1);
  for (const s of shapes) {
    s.forEach((d, i) => {
      const j = r - s.length + i;
      if (d !== 1) {
        if (out[j] !== 1 && out[j] !== d) throw new Error("no broadcast");
        out[j] = d;
      }
    });
  }
  return out;
}

/** Reads `a` at the broadcast coordinates of flat index `i` of `shape`. */
function at(a: Nd, shape: number[], i: number): number {
  let rem = i, off = 0;
  const st = stridesOf(a.shape);
  for (let d = shape.length - 1; d >= 0; d--) {
    const c = rem % shape[d];
    rem = Math.floor(rem / shape[d]);
    const j = d - (shape.length - a.shape.length);
    if (j >= 0 && a.shape[j] !== 1) off += c * st[j];
  }
  return a.data[off];
}

/** Elementwise map with broadcasting. */
export function map(fn: (...v: number[]) => number, ...xs: Nd[]): Nd {
  const shape = bshape(...xs.map((x) => x.shape));
  const n = size(shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = fn(...xs.map((x) => at(x, shape, i)));
  return { shape, data: out };
}

/** Sums `g` (broadcast shape) down to `shape`. */
export function sumTo(g: Nd, shape: number[]): Nd {
  const out = new Float64Array(size(shape));
  const tgt: Nd = { shape, data: out };
  const st = stridesOf(shape);
  for (let i = 0; i < g.data.length; i++) {
    let rem = i, off = 0;
    for (let d = g.shape.length - 1; d >= 0; d--) {
      const c = rem % g.shape[d];
      rem = Math.floor(rem / g.shape[d]);
      const j = d - (g.shape.length - shape.length);
      if (j >= 0 && shape[j] !== 1) off += c * st[j];
    }
    out[off] += g.data[i];
  }
  return tgt;
}

/** Reduction over axes with keepdim shape. */
export function reduce(
  x: Nd,
  axes: number[],
  init: number,
  fn: (acc: number, v: number) => number,
): Nd {
  const shape = x.shape.map((d, i) => axes.includes(i) ? 1 : d);
  const out = new Float64Array(size(shape)).fill(init);
  const st = stridesOf(shape);
  for (let i = 0; i < x.data.length; i++) {
    let rem = i, off = 0;
    for (let d = x.shape.length - 1; d >= 0; d--) {
      const c = rem % x.shape[d];
      rem = Math.floor(rem / x.shape[d]);
      if (!axes.includes(d)) off += c * st[d];
    }
    out[off] = fn(out[off], x.data[i]);
  }
  return { shape, data: out };
}

/** Batched matmul with broadcasting of batch dims. */
export function matmul(a: Nd, b: Nd): Nd {
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const batch = bshape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nb = size(batch);
  const out = new Float64Array(nb * m * n);
  const aB: Nd = {
    shape: a.shape.slice(0, -2),
    data: Float64Array.from({ length: size(a.shape.slice(0, -2)) }, (_, i) => i),
  };
  const bB: Nd = {
    shape: b.shape.slice(0, -2),
    data: Float64Array.from({ length: size(b.shape.slice(0, -2)) }, (_, i) => i),
  };
  for (let z = 0; z < nb; z++) {
    const ai = at(aB, batch, z) * m * k, bi = at(bB, batch, z) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a.data[ai + i * k + q] * b.data[bi + q * n + j];
        out[z * m * n + i * n + j] = s;
      }
    }
  }
  return { shape: [...batch, m, n], data: out };
}

/** Transpose of the last two dims. */
export function transposeLast(a: Nd): Nd {
  const [m, n] = a.shape.slice(-2);
  const nb = size(a.shape.slice(0, -2));
  const out = new Float64Array(a.data.length);
  for (let z = 0; z < nb; z++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) out[z * m * n + j * m + i] = a.data[z * m * n + i * n + j];
    }
  }
  return { shape: [...a.shape.slice(0, -2), n, m], data: out };
}

/** Permutes dims. */
export function permute(a: Nd, dims: number[]): Nd {
  const shape = dims.map((d) => a.shape[d]);
  const st = stridesOf(a.shape);
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) {
    let rem = i, off = 0;
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
      off += c * st[dims[d]];
    }
    out[i] = a.data[off];
  }
  return { shape, data: out };
}

/** Exact erf (Abramowitz-Stegun 7.1.26 is not enough for f64: use a series/continued fraction). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series
    let sum = ax, term = ax;
    for (let n = 1; n < 80; n++) {
      term *= -ax * ax / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17) break;
    }
    return Math.sign(x) * 2 / Math.sqrt(Math.PI) * sum;
  }
  // Continued fraction for erfc
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}
