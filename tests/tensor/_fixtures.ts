/** Reads the torch-ops fixture (safetensors + cases.json) for op tests. */

/** One tensor of a safetensors file. */
export interface FixtureTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array;
}

/** Fixture folder (shared/, beside the repository). */
export const TORCH_OPS = new URL("../../../shared/fixtures/torch-ops/", import.meta.url);

/** Parses a safetensors file into a name -> tensor map (skipping `__metadata__`). */
export async function readSafetensors(url: URL): Promise<Map<string, FixtureTensor>> {
  const bytes = await Deno.readFile(url);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const base = 8 + n;
  const out = new Map<string, FixtureTensor>();
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: [b, e] } = v as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    const raw = bytes.slice(base + b, base + e).buffer;
    const data = dtype === "F32"
      ? new Float32Array(raw)
      : dtype === "F64"
      ? new Float64Array(raw)
      : new BigInt64Array(raw);
    out.set(name, { dtype, shape, data });
  }
  return out;
}

/** A case's variants from cases.json. */
// deno-lint-ignore no-explicit-any
export async function fixtureCase(name: string): Promise<any> {
  const cases = JSON.parse(await Deno.readTextFile(new URL("cases.json", TORCH_OPS)));
  // deno-lint-ignore no-explicit-any
  const c = cases.cases.find((c: any) => c.case === name);
  if (!c) throw new Error(`No case "${name}" in torch-ops/cases.json`);
  return c;
}
