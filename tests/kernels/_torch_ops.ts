/**
 * Reads torch-ops fixture files (plain safetensors) for the attention, RoPE, loss and optimiser
 * tests. Format: 8-byte little-endian u64 header length N, N bytes of JSON header, then raw
 * little-endian C-order data (offsets relative to the end of the header).
 */

/** One tensor from a fixture file, widened to float64. */
export interface OpsTensor {
  shape: number[];
  data: Float64Array;
}

/** A fixture file plus the `max_abs_f32_vs_f64` gaps recorded for its variants. */
export interface OpsFixture {
  tensors: Map<string, OpsTensor>;
  /** `variant -> output/grad name -> max |f32 - f64|` from cases.json. */
  gaps: Map<string, Record<string, number>>;
}

const ROOT = new URL("../../../shared/fixtures/torch-ops/", import.meta.url);

/** Loads `<name>.safetensors` and its cases.json entry. */
export function loadOps(name: string): OpsFixture {
  const url = new URL(`${name}.safetensors`, ROOT);
  const bytes = Deno.readFileSync(url);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) throw new RangeError(`Cannot read ${url.pathname}: header past end`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const base = 8 + n;
  const tensors = new Map<string, OpsTensor>();
  for (const [key, info] of Object.entries(header)) {
    if (key === "__metadata__") continue;
    const { dtype, shape, data_offsets: [b, e] } = info as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    const size = dtype === "F32" ? 4 : 8;
    const data = new Float64Array((e - b) / size);
    for (let i = 0; i < data.length; i++) {
      const at = base + b + i * size;
      data[i] = dtype === "F32"
        ? view.getFloat32(at, true)
        : dtype === "F64"
        ? view.getFloat64(at, true)
        : Number(view.getBigInt64(at, true));
    }
    tensors.set(key, { shape, data });
  }
  const cases = JSON.parse(Deno.readTextFileSync(new URL("cases.json", ROOT))).cases as {
    case: string;
    variants: { variant: string; max_abs_f32_vs_f64: Record<string, number> }[];
  }[];
  const gaps = new Map<string, Record<string, number>>();
  for (const v of cases.find((c) => c.case === name)?.variants ?? []) {
    gaps.set(v.variant, v.max_abs_f32_vs_f64);
  }
  return { tensors, gaps };
}

/** One tensor by name, or an error naming the missing key. */
export function get(f: OpsFixture, key: string): OpsTensor {
  const t = f.tensors.get(key);
  if (!t) throw new Error(`Fixture tensor "${key}" missing: have ${[...f.tensors.keys()]}`);
  return t;
}

/** The recorded float32-vs-float64 gap for one output of a variant. */
export function gap(f: OpsFixture, variant: string, name: string): number {
  const g = f.gaps.get(variant)?.[name];
  if (g === undefined) throw new Error(`No max_abs_f32_vs_f64 for ${variant}/${name}`);
  return g;
}

/** Deterministic normal-ish values (sum of uniforms) from a 32-bit seed. */
export function randn(n: number, seed: number, scale = 1): Float64Array {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (u() + u() + u() + u() - 2) * Math.sqrt(3) * scale;
  return out;
}

/** Largest |a - b|. */
export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ours=${a.length} | ref=${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
