import { assert, assertEquals } from "../../assert.ts";
import { resizeBytes, resizePlaneF32 } from "../../../src/data/mod.ts";

const OPS = new URL("../../../../shared/fixtures/torch-ops/", import.meta.url);

function readSafetensors(name: string): Map<string, { shape: number[]; data: Float32Array }> {
  const b = Deno.readFileSync(new URL(name, OPS));
  const n = Number(new DataView(b.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
  const out = new Map();
  for (
    const [k, v] of Object.entries(header) as [
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] },
    ][]
  ) {
    if (k === "__metadata__" || v.dtype !== "F32") continue;
    const bytes = b.slice(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]);
    out.set(k, { shape: v.shape, data: new Float32Array(bytes.buffer) });
  }
  return out;
}

function check(file: string, variant: string, tol: number) {
  const t = readSafetensors(file);
  const x = t.get(`${variant}/in.x`)!, y = t.get(`${variant}/out`)!;
  const [N, C, H, W] = x.shape, [, , OH, OW] = y.shape;
  let maxErr = 0;
  for (let p = 0; p < N * C; p++) {
    const out = resizePlaneF32(x.data.subarray(p * H * W, (p + 1) * H * W), W, H, OW, OH);
    for (let i = 0; i < out.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(out[i] - y.data[p * OH * OW + i]));
    }
  }
  assert(maxErr < tol, `${file} ${variant}: max error ${maxErr}`);
}

Deno.test("resizePlaneF32() matches torch antialiased bilinear downscale 32x40 -> 9x13", () => {
  check("interpolate_bilinear_antialias_down.safetensors", "down_9x13", 1e-5);
});

Deno.test("resizePlaneF32() matches torch bilinear upscale 7x9 -> 12x17 (align_corners=False)", () => {
  check("interpolate_bilinear_ac_false.safetensors", "up_12x17", 1e-5);
});

Deno.test("resizeBytes() rounds the same filter to uint8", () => {
  const src = new Uint8Array(5 * 4);
  for (let i = 0; i < src.length; i++) src[i] = (i * 37) % 256;
  const f = resizePlaneF32(Float32Array.from(src), 5, 4, 9, 7);
  const b = resizeBytes(src, 5, 4, 1, 9, 7);
  // two roundings (after each pass, like PIL) stay within one level of the float result
  for (let i = 0; i < b.length; i++) assert(Math.abs(b[i] - f[i]) <= 1, `${i}: ${b[i]} vs ${f[i]}`);
  assertEquals(b.length, 63);
});
