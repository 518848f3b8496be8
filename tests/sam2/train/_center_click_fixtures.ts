/**
 * Reads tests/fixtures/center_clicks/ (written by scripts/fixtures/make_center_click_fixtures.py
 * from OpenCV's `distanceTransform` and the reference's error-center rule).
 */

const DIR = new URL("../../fixtures/center_clicks/", import.meta.url);

/** One case: masks [O, H, W], the expected click per object and where its cv2 maps lie. */
export interface CenterClickCase {
  name: string;
  height: number;
  width: number;
  objects: number;
  gt: Uint8Array;
  pred: Uint8Array | null;
  /** [x, y, label] per object. */
  clicks: [number, number, number][];
  /** Per object, the float offsets of the padded FN and FP maps in `dt`. */
  dtOffsets: [number, number][];
}

/** An unpadded mask and its cv2 distance map. */
export interface RawDtCase {
  height: number;
  width: number;
  mask: Uint8Array;
  dtOffset: number;
}

/** Every case plus all cv2 distance maps, concatenated. */
export interface CenterClickFixtures {
  cases: CenterClickCase[];
  raw: RawDtCase[];
  dt: Float32Array;
}

/** `np.packbits` (big-endian bit order) of `n` values, undone. */
function unpack(b64: string, n: number): Uint8Array {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  if (bytes.length !== Math.ceil(n / 8)) {
    throw new Error(`fixture mask holds ${bytes.length} bytes, expected ${Math.ceil(n / 8)}`);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  return out;
}

let cached: Promise<CenterClickFixtures> | undefined;

/** Loads (once) the fixture folder. */
export function centerClickFixtures(): Promise<CenterClickFixtures> {
  return cached ??= load();
}

async function load(): Promise<CenterClickFixtures> {
  // deno-lint-ignore no-explicit-any
  const json: any = JSON.parse(await Deno.readTextFile(new URL("cases.json", DIR)));
  const gz = await Deno.readFile(new URL("dt.f32.gz", DIR));
  const raw = new Uint8Array(
    await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")))
      .arrayBuffer(),
  );
  const dt = new Float32Array(raw.length / 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < dt.length; i++) dt[i] = view.getFloat32(4 * i, true);
  return {
    // deno-lint-ignore no-explicit-any
    cases: json.cases.map((c: any): CenterClickCase => {
      const n = c.objects * c.height * c.width;
      return {
        name: c.name,
        height: c.height,
        width: c.width,
        objects: c.objects,
        gt: unpack(c.gt, n),
        pred: c.pred === null ? null : unpack(c.pred, n),
        clicks: c.clicks,
        dtOffsets: c.dt_offsets,
      };
    }),
    // deno-lint-ignore no-explicit-any
    raw: json.raw_dt.map((r: any): RawDtCase => ({
      height: r.height,
      width: r.width,
      mask: unpack(r.mask, r.height * r.width),
      dtOffset: r.dt_offset,
    })),
    dt,
  };
}
