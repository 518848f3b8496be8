import { assert } from "../assert.ts";
import { tempProject } from "./_helpers.ts";

/** Seeds: the real pipeline files plus the test pipelines' shapes. */
async function seeds(): Promise<string[]> {
  const out: string[] = [];
  const dir = new URL("../../pipelines/", import.meta.url);
  for (const e of Deno.readDirSync(dir)) {
    if (e.name.endsWith(".yaml")) out.push(await Deno.readTextFile(new URL(e.name, dir)));
  }
  out.push(`vars:
  v: [a, b]
  base: &b {x: 1}
stages:
  gen:
    run: mkdir -p \${outs.d}; touch \${outs.d}/a.txt
    outs:
      d: out/gen
  each:
    foreach: \${vars.v}
    run: echo \${item} > \${outs.o}
    needs: [gen]
    outs:
      o: out/each/\${item}
  files:
    foreach: in/*.txt
    run: cat \${item} > \${outs.o}
    deps: ["\${item}"]
    outs:
      o: out/files/\${item.stem}
  kind:
    uses: build-dataset
    with:
      frames: \${stages.each.outs.o}
      format: sav
    outs:
      manifest: out/m.json
`);
  return out;
}

Deno.test("parsePipeline() fuzz: 3000 mutated pipeline files end in a valid spec or positioned errors", async () => {
  const root = await tempProject({
    "in/a.txt": "a",
    "in/b.txt": "b",
    "scripts/make_synthetic.ts": "",
    "src/data/synthetic/x.ts": "",
  });
  const worker = new Worker(new URL("./_fuzz_worker.ts", import.meta.url), { type: "module" });
  try {
    const texts = await seeds();
    const result = await new Promise<{ valid: number; invalid: number }>((resolve, reject) => {
      let last = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - last > 90_000) reject(new Error("the parser hung (no progress for 90 s)"));
      }, 1000);
      worker.onmessage = (ev) => {
        last = Date.now();
        if (ev.data.crash) {
          clearInterval(watchdog);
          reject(new Error(ev.data.crash));
        } else if (ev.data.done) {
          clearInterval(watchdog);
          resolve(ev.data);
        }
      };
      worker.onerror = (e) => {
        clearInterval(watchdog);
        reject(new Error(e.message));
      };
      worker.postMessage({ texts, count: 3000, seed: 12345, root });
    });
    assert(
      result.valid > 50 && result.invalid > 50,
      `both outcomes exercised: ${JSON.stringify(result)}`,
    );
  } finally {
    worker.terminate();
    await Deno.remove(root, { recursive: true });
  }
});
