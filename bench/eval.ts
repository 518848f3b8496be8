/**
 * `deno task bench eval [--json] [--frames N]`: J&F evaluation speed on the DAVIS 2016
 * fixtures (854x480, boundary disk radius 8), predictions = GT shifted by 6 px. Baseline:
 * the time to merely decode the two PNGs of a frame. Also times the boundary F-measure
 * against the reference's literal method (full-image boundary maps, full disk dilation of
 * both, then counts), to show what the sparse, cropped matching saves.
 */
import {
  boundaryF,
  boundaryRadius,
  dilate,
  evaluate,
  readMaskPng,
  seg2bmap,
  writeMaskPng,
} from "../src/eval/mod.ts";

const args = Deno.args;
const json = args.includes("--json");
const i = args.indexOf("--frames");
const frames = i >= 0 ? Number(args[i + 1]) : 12;
const FIX = new URL("../../shared/fixtures/davis2016/Annotations/", import.meta.url).pathname;

const dir = await Deno.makeTempDir();
try {
  const names = [...Array(frames).keys()].map((k) => `${String(k).padStart(5, "0")}.png`);
  await Deno.mkdir(`${dir}/gt/blackswan`, { recursive: true });
  await Deno.mkdir(`${dir}/pred/blackswan`, { recursive: true });
  for (const n of names) {
    const m = await readMaskPng(`${FIX}blackswan/${n}`);
    await Deno.copyFile(`${FIX}blackswan/${n}`, `${dir}/gt/blackswan/${n}`);
    const data = new Uint8Array(m.data.length);
    for (let y = 0; y < m.height; y++) {
      for (let x = 6; x < m.width; x++) data[y * m.width + x] = m.data[y * m.width + x - 6];
    }
    await writeMaskPng(`${dir}/pred/blackswan/${n}`, { width: m.width, height: m.height, data });
  }
  // Baseline: decode both PNGs of every frame.
  await readMaskPng(`${dir}/gt/blackswan/${names[0]}`);
  let t = performance.now();
  for (const n of names) {
    await readMaskPng(`${dir}/gt/blackswan/${n}`);
    await readMaskPng(`${dir}/pred/blackswan/${n}`);
  }
  const decodeMs = (performance.now() - t) / frames;
  t = performance.now();
  const r = await evaluate({
    gtRoot: `${dir}/gt`,
    predRoot: `${dir}/pred`,
    skipFirstAndLast: false,
  });
  const evalMs = (performance.now() - t) / frames;

  // Boundary F alone: ours vs the literal full-image method, on one frame pair.
  const g = await readMaskPng(`${dir}/gt/blackswan/${names[1]}`);
  const p = await readMaskPng(`${dir}/pred/blackswan/${names[1]}`);
  const gm = Uint8Array.from(g.data, (v) => (v === 1 ? 1 : 0));
  const pm = Uint8Array.from(p.data, (v) => (v === 1 ? 1 : 0));
  const { width: w, height: h } = g;
  const reps = 5;
  t = performance.now();
  let fOurs = 0;
  for (let k = 0; k < reps; k++) fOurs = boundaryF(pm, gm, w, h).f;
  const oursMs = (performance.now() - t) / reps;
  t = performance.now();
  let fLit = 0;
  for (let k = 0; k < reps; k++) {
    const bp = seg2bmap(pm, w, h), bg = seg2bmap(gm, w, h);
    const rad = boundaryRadius(w, h);
    const dp = dilate(bp, w, h, rad), dg = dilate(bg, w, h, rad);
    let a = 0, b = 0, na = 0, nb = 0;
    for (let q = 0; q < w * h; q++) {
      na += bp[q];
      nb += bg[q];
      a += bp[q] & dg[q];
      b += bg[q] & dp[q];
    }
    const P = a / na, R = b / nb;
    fLit = (2 * P * R) / (P + R);
  }
  const literalMs = (performance.now() - t) / reps;
  if (Math.abs(fOurs - fLit) > 1e-12) throw new Error(`F differs: ${fOurs} vs ${fLit}`);

  const out = {
    machine:
      `${Deno.build.os}-${Deno.build.arch}, ${navigator.hardwareConcurrency} cores (CPU only)`,
    frames,
    jf: r.jf,
    decode_ms_per_frame: decodeMs,
    evaluate_ms_per_frame: evalMs,
    evaluate_over_decode: evalMs / decodeMs,
    boundary_f_ms: oursMs,
    boundary_f_literal_ms: literalMs,
    literal_over_ours: literalMs / oursMs,
  };
  if (json) console.log(JSON.stringify(out));
  else {
    console.log(`eval on ${out.machine}: ${frames} frames of 854x480 (DAVIS 2016 blackswan)`);
    console.log(
      `  evaluate(): ${evalMs.toFixed(1)} ms/frame = ${out.evaluate_over_decode.toFixed(2)}x ` +
        `the time to decode the frame's two PNGs (${decodeMs.toFixed(1)} ms); J&F ${
          r.jf.toFixed(1)
        }`,
    );
    console.log(
      `  boundary F: ${oursMs.toFixed(2)} ms; the literal full-image dilation method takes ` +
        `${out.literal_over_ours.toFixed(1)}x as long (${literalMs.toFixed(1)} ms), same value`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
