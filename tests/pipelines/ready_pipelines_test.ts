// The ready pipelines in pipelines/ must stay valid as the stage kinds evolve: each one parses and
// validates, names its missing data by path, and plans the right stages over real data. They are
// not run to completion here (their training configs are GPU jobs); the demo pipeline's test runs
// the same kinds end to end.
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { runSam2 } from "../cli/_sam2.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = new URL("../../../shared/fixtures/", import.meta.url).pathname;

const sam2 = (...args: string[]) => runSam2(args, { cwd: ROOT, env: { CI: "true" } });

/** Runs `fn` with a throw-away store so that nothing is written into the checkout's `.sam2/`. */
async function withStore(fn: (store: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ready_pipelines_" });
  try {
    await fn(`${dir}/store`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("every ready pipeline parses and validates into its stage graph", async () => {
  const expected: Record<string, string[]> = {
    "demo.yaml": ["synth", "frames", "dataset", "train", "eval"],
    "finetune_vos.yaml": ["train_set", "val_set", "train", "eval"],
    "sav.yaml": ["frames", "dataset", "train"],
  };
  const files = [...Deno.readDirSync(`${ROOT}pipelines`)]
    .map((e) => e.name).filter((n) => n.endsWith(".yaml")).sort();
  assertEquals(files, Object.keys(expected).sort(), "a new pipeline needs a line here");
  for (const file of files) {
    const r = await sam2("dag", `pipelines/${file}`);
    assertEquals(r.code, 0, `${file}: ${r.stderr}`);
    for (const stage of expected[file]) {
      assert(new RegExp(`^\\s+${stage} \\[`, "m").test(r.stdout), `${file}: stage ${stage}`);
    }
  }
});

Deno.test("finetune_vos names each missing dataset folder before anything runs", async () => {
  await withStore(async (store) => {
    const r = await sam2(
      "run",
      "pipelines/finetune_vos.yaml",
      "--dry-run",
      "--store",
      store,
      "--var",
      "train_root=no/such/train",
    );
    assertEquals(r.code !== 0, true, r.stdout);
    assertStringIncludes(r.stderr, 'Input "no/such/train/JPEGImages" of stage "train_set"');
    assertStringIncludes(r.stderr, "pipelines/finetune_vos.yaml:");
  });
});

Deno.test("finetune_vos plans every stage over a DAVIS-style fixture", async () => {
  await withStore(async (store) => {
    const davis = `${FIXTURES}davis2017`;
    const r = await sam2(
      "run",
      "pipelines/finetune_vos.yaml",
      "--dry-run",
      "--store",
      store,
      "--var",
      `train_root=${davis}`,
      "--var",
      `val_root=${davis}`,
      "--var",
      `init_weights=${FIXTURES}sam2-mini/model.pt`,
      "--json",
    );
    assertEquals(r.code, 0, r.stderr);
    for (const stage of ["train_set", "val_set", "train", "eval"]) {
      assert(new RegExp(`would (run|restore) ${stage}\\b`).test(r.stderr + r.stdout), stage);
    }
  });
});

Deno.test("sav expands one extraction stage per video of the shard folder", async () => {
  await withStore(async (store) => {
    const dir = await Deno.makeTempDir({ prefix: "sav_shard_" });
    try {
      // Two tiny stand-in videos: planning reads only names and bytes, not frames.
      for (const name of ["sav_000001", "sav_000002"]) {
        await Deno.writeFile(
          `${dir}/${name}.mp4`,
          new Uint8Array([0, 0, 0, 8, 102, 116, 121, 112]),
        );
        await Deno.copyFile(`${FIXTURES}sav/sav_000001_manual.json`, `${dir}/${name}_manual.json`);
      }
      const r = await sam2(
        "run",
        "pipelines/sav.yaml",
        "--dry-run",
        "--store",
        store,
        "--var",
        `sav_dir=${dir}`,
        "--var",
        `init_weights=${FIXTURES}sam2-mini/model.pt`,
      );
      assertEquals(r.code, 0, r.stderr);
      const out = r.stderr + r.stdout;
      for (const stage of ["frames@sav_000001", "frames@sav_000002"]) {
        assert(out.includes(`would run ${stage}`), `${stage} in:\n${out}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
