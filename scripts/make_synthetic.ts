/**
 * Writes a synthetic dataset (moving, occluding shapes with exact masks) as mp4 + SA-V json,
 * DAVIS folders and SA-1B pairs.
 *
 * @example
 * ```sh
 * deno run -A scripts/make_synthetic.ts --out /tmp/syn --videos 2 --frames 24 --size 256x160 --seed 0
 * ```
 */
import { generateSyntheticDataset, type SyntheticFormat } from "../src/data/mod.ts";

const usage = `Usage: deno run -A scripts/make_synthetic.ts --out DIR [--videos N] [--frames F]
  [--size WxH] [--seed S] [--ann-every K] [--objects MIN-MAX] [--fps R]
  [--formats videos,sav,davis,sa1b] [--force]`;

function fail(msg: string): never {
  console.error(`make_synthetic: ${msg}\n${usage}`);
  Deno.exit(2);
}

const args = [...Deno.args];
const opt: Record<string, string | boolean> = {};
while (args.length) {
  const a = args.shift()!;
  if (a === "--help" || a === "-h") {
    console.log(usage);
    Deno.exit(0);
  }
  if (!a.startsWith("--")) fail(`unexpected argument "${a}"`);
  const [k, inline] = a.slice(2).split("=", 2);
  if (k === "force") {
    opt[k] = true;
    continue;
  }
  const v = inline ?? args.shift();
  if (v === undefined) fail(`--${k} needs a value`);
  opt[k] = v;
}
const known = [
  "out",
  "videos",
  "frames",
  "size",
  "seed",
  "ann-every",
  "objects",
  "fps",
  "formats",
  "force",
];
for (const k of Object.keys(opt)) if (!known.includes(k)) fail(`unknown option --${k}`);
if (typeof opt.out !== "string") fail("--out DIR is required");

function int(name: string, def: number): number {
  const v = opt[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n)) fail(`--${name} must be an integer, got "${v}"`);
  return n;
}
let width = 256, height = 160;
if (typeof opt.size === "string") {
  const m = /^(\d+)x(\d+)$/.exec(opt.size);
  if (!m) fail(`--size must be WxH, got "${opt.size}"`);
  [width, height] = [Number(m[1]), Number(m[2])];
}
let objects: [number, number] | undefined;
if (typeof opt.objects === "string") {
  const m = /^(\d+)(?:-(\d+))?$/.exec(opt.objects);
  if (!m) fail(`--objects must be N or MIN-MAX, got "${opt.objects}"`);
  objects = [Number(m[1]), Number(m[2] ?? m[1])];
}
const formats = typeof opt.formats === "string"
  ? opt.formats.split(",").map((s) => s.trim()) as SyntheticFormat[]
  : undefined;

try {
  const t0 = performance.now();
  const info = await generateSyntheticDataset({
    out: opt.out,
    videos: int("videos", 2),
    frames: int("frames", 24),
    width,
    height,
    seed: int("seed", 0),
    annEvery: int("ann-every", 4),
    fps: int("fps", 24),
    objects,
    formats,
    overwrite: opt.force === true,
  });
  console.log(
    `Wrote ${info.videos.length} synthetic videos (${info.frames} frames, ${info.width}x${info.height}, ` +
      `seed ${info.seed}) to ${opt.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
} catch (e) {
  console.error(`make_synthetic: ${(e as Error).message}`);
  Deno.exit(1);
}
