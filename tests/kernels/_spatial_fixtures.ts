/**
 * Reads the torch-ops fixture files (plain safetensors) for the spatial kernel tests: conv,
 * pool, interpolate, norm2d. Format: 8-byte little-endian u64 header length N, N bytes of
 * JSON header, then raw little-endian C-order data (offsets relative to the end of the header).
 */

/** One tensor from a fixture file, widened to float64 (I64 values fit exactly here). */
export interface FixtureTensor {
  shape: number[];
  dtype: "F32" | "F64" | "I64";
  data: Float64Array;
}

/** Root of the shared fixtures, resolved from this file (tests/kernels/ -> ../../../shared). */
export const FIXTURES = new URL("../../../shared/fixtures/torch-ops/", import.meta.url);

/** Loads every tensor of `<name>.safetensors` into a map keyed by tensor name. */
export function loadTorchOps(name: string): Map<string, FixtureTensor> {
  const url = new URL(`${name}.safetensors`, FIXTURES);
  const bytes = Deno.readFileSync(url);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (8 + headerLen > bytes.length) {
    throw new RangeError(`Cannot read ${url.pathname}: header length ${headerLen} past end`);
  }
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  const base = 8 + headerLen;
  const out = new Map<string, FixtureTensor>();
  for (const [key, info] of Object.entries(header)) {
    if (key === "__metadata__") continue;
    const { dtype, shape, data_offsets } = info as {
      dtype: "F32" | "F64" | "I64";
      shape: number[];
      data_offsets: [number, number];
    };
    const [b, e] = data_offsets;
    const size = dtype === "F32" ? 4 : 8;
    const n = (e - b) / size;
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const at = base + b + i * size;
      data[i] = dtype === "F32"
        ? view.getFloat32(at, true)
        : dtype === "F64"
        ? view.getFloat64(at, true)
        : Number(view.getBigInt64(at, true));
    }
    out.set(key, { shape, dtype, data });
  }
  return out;
}

/** Gets one tensor or fails naming the file and the missing key. */
export function tensorOf(file: Map<string, FixtureTensor>, key: string): FixtureTensor {
  const t = file.get(key);
  if (!t) throw new Error(`Fixture tensor "${key}" missing: have ${[...file.keys()].join(", ")}`);
  return t;
}

/** Deterministic uniform(-1, 1) values from a 32-bit seed (mulberry32). */
export function randomArray(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Largest |a - b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ours=${a.length} | ref=${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** `variant -> output/grad name -> max |f32 - f64|` of PyTorch itself, from cases.json. */
export function gapsOf(caseName: string): Map<string, Record<string, number>> {
  const cases = JSON.parse(Deno.readTextFileSync(new URL("cases.json", FIXTURES))).cases as {
    case: string;
    variants: { variant: string; max_abs_f32_vs_f64: Record<string, number> }[];
  }[];
  const c = cases.find((c) => c.case === caseName);
  if (!c) throw new Error(`cases.json has no case "${caseName}"`);
  return new Map(c.variants.map((v) => [v.variant, v.max_abs_f32_vs_f64]));
}

/** `randomArray` rounded to float32 values (so GPU inputs equal the reference's inputs). */
export function randomF32(n: number, seed: number): Float64Array {
  return randomArray(n, seed).map(Math.fround);
}
