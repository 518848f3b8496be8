/**
 * `deno task bench kernels [--json] [--quick] [--only <family>]`: kernel benchmarks. Every file
 * in bench/kernels/ (not starting with "_") registers cases with `benchCase`; families added by
 * other parts (conv, attention, ...) only add a file there. Each case prints figures as ratios
 * against a baseline timed in the same run, and names the device.
 */
import { initGpu } from "../src/gpu/mod.ts";
import { CASES } from "./kernels/_registry.ts";

const args = Deno.args;
const json = args.includes("--json");
const quick = args.includes("--quick");
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
Deno.env.set("XDG_RUNTIME_DIR", Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp");

const dir = new URL("./kernels/", import.meta.url);
const files = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && e.name.endsWith(".ts") && !e.name.startsWith("_"))
  .map((e) => e.name)
  .sort();
for (const f of files) await import(new URL(f, dir).href);

const rt = await initGpu();
if (!json) console.log(`device: ${rt.adapterName} (${navigator.hardwareConcurrency} CPU cores)`);
const log = (m: string) => console.error(`[bench] ${m}`);
const results = [];
for (const c of CASES) {
  if (only && c.family !== only) continue;
  log(`${c.family}: ${c.name}`);
  for (const r of await c.run({ quick, log })) {
    results.push({ family: c.family, ...r });
    if (!json) {
      console.log(`\n${c.family} | ${r.name}`);
      for (const [k, v] of Object.entries(r.metrics)) console.log(`  ${k.padEnd(34)} ${v}`);
    }
  }
}
const device = {
  adapter: rt.adapterName,
  cpuAdapter: rt.isCpuAdapter,
  cores: navigator.hardwareConcurrency,
};
if (json) {
  console.log(JSON.stringify({ benchmark: "kernels", device, results }));
} else {
  console.log(`\ndevice: ${device.adapter} (${device.cores} CPU cores)`);
}
