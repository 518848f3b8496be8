/**
 * Manual cross-check (not part of the test suite): builds prediction folders from the
 * fixtures (shifted, perturbed with extra ids, SA-V per-object layout, DAVIS 2017 with void
 * and swapped ids), scores them with {@link evaluate} and with the reference's
 * `sav_dataset/utils/sav_benchmark.py` under Python, and compares the two `results.csv`.
 *
 * Needs Debian's python3 with python3-opencv, python3-skimage, python3-pil, python3-tqdm:
 *
 * ```sh
 * deno run -A tests/eval/reference_crosscheck.ts [--ref ../ref/sav_dataset] [--python /usr/bin/python3]
 * ```
 * Exits 1 when any CSV differs.
 */
import {
  encodeMaskPng,
  evaluate,
  formatReferenceCsv,
  readMaskPng,
  writeMaskPng,
} from "../../src/eval/mod.ts";

const arg = (name: string, def: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : def;
};
const root = new URL("../../", import.meta.url).pathname;
const ref = arg("--ref", `${root}../ref/sav_dataset`);
const python = arg("--python", "/usr/bin/python3");
const fx = `${root}../shared/fixtures/`;
const out = await Deno.makeTempDir({ prefix: "jf-crosscheck-" });

type Edit = (d: Uint8Array, w: number, h: number, t: number) => Uint8Array;
const shift = (dx: number, dy: number): Edit => (d, w, h) => {
  const o = new Uint8Array(d.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = x - dx, sy = y - dy;
      if (sx >= 0 && sx < w && sy >= 0 && sy < h) o[y * w + x] = d[sy * w + sx];
    }
  }
  return o;
};
const perturb: Edit = (d, w, h, t) => {
  const o = shift(t % 3, 13)(d, w, h, t);
  for (let y = 10; y < 40; y++) for (let x = 700; x < 760 + t; x++) o[y * w + x] = 1;
  for (let y = 400; y < 420; y++) for (let x = 20; x < 60; x++) o[y * w + x] = 2;
  return o;
};
const swap: Edit = (d, w, h, t) =>
  shift(5, 0)(d, w, h, t).map((v) => (v === 1 ? 2 : v === 2 ? 1 : v));

async function copyEdited(src: string, dst: string, edit: Edit, limit = Infinity) {
  for (const video of [...Deno.readDirSync(src)].map((e) => e.name).sort()) {
    await Deno.mkdir(`${dst}/${video}`, { recursive: true });
    const names = [...Deno.readDirSync(`${src}/${video}`)].map((e) => e.name).sort();
    for (const [t, n] of names.slice(0, limit).entries()) {
      const m = await readMaskPng(`${src}/${video}/${n}`);
      const data = edit(m.data as Uint8Array, m.width, m.height, t);
      await writeMaskPng(`${dst}/${video}/${n}`, { width: m.width, height: m.height, data });
    }
  }
}

const cases: { name: string; gt: string; pred: string; skip: boolean }[] = [];
await copyEdited(`${fx}davis2016/Annotations`, `${out}/gt16`, (d) => d, 8);
await copyEdited(`${fx}davis2016/Annotations`, `${out}/shift`, shift(11, -4), 8);
await copyEdited(`${fx}davis2016/Annotations`, `${out}/perturb`, perturb, 8);
cases.push({ name: "shift", gt: `${out}/gt16`, pred: `${out}/shift`, skip: true });
cases.push({ name: "perturb", gt: `${out}/gt16`, pred: `${out}/perturb`, skip: true });
await copyEdited(`${fx}davis2017/Annotations`, `${out}/swap`, swap);
cases.push({ name: "swap", gt: `${fx}davis2017/Annotations`, pred: `${out}/swap`, skip: false });
// SA-V layout: object 1 of DAVIS 2017 blackswan as binary PNGs, prediction shifted.
const pal = [[0, 0, 0], ...Array(255).fill([255, 255, 255])] as [number, number, number][];
for (const [dir, edit] of [["savgt", (d: Uint8Array) => d], ["savpred", shift(9, 2)]] as const) {
  for (let t = 0; t < 6; t++) {
    const n = `${String(t).padStart(5, "0")}.png`;
    const m = await readMaskPng(`${fx}davis2017/Annotations/blackswan/${n}`);
    const bin = Uint8Array.from(m.data, (v) => (v === 1 ? 255 : 0));
    await Deno.mkdir(`${out}/${dir}/blackswan/000`, { recursive: true });
    const data = edit(bin, m.width, m.height, t);
    await Deno.writeFile(
      `${out}/${dir}/blackswan/000/${n}`,
      encodeMaskPng({ width: m.width, height: m.height, data }, pal),
    );
  }
}
cases.push({ name: "sav", gt: `${out}/savgt`, pred: `${out}/savpred`, skip: true });

let bad = 0;
for (const c of cases) {
  const ours = formatReferenceCsv(
    await evaluate({ gtRoot: c.gt, predRoot: c.pred, skipFirstAndLast: c.skip }),
  );
  const code = `import sys; sys.path.insert(0, ${JSON.stringify(ref)})
from utils.sav_benchmark import benchmark
benchmark([${JSON.stringify(c.gt)}], [${JSON.stringify(c.pred)}], strict=False, num_processes=1,
          verbose=False, skip_first_and_last=${c.skip ? "True" : "False"})`;
  const r = await new Deno.Command(python, { args: ["-c", code] }).output();
  if (!r.success) throw new Error(`Reference failed: ${new TextDecoder().decode(r.stderr)}`);
  const theirs = await Deno.readTextFile(`${c.pred}/results.csv`);
  const same = theirs === ours;
  if (!same) bad++;
  console.log(`${c.name}: ${same ? "identical" : "DIFFERENT"}\n${ours}`);
  if (!same) console.log(`reference:\n${theirs}`);
}
await Deno.remove(out, { recursive: true });
Deno.exit(bad ? 1 : 0);
