import { assert, assertEquals, assertNotEquals } from "../assert.ts";
import { builtinRegistry, Engine } from "../../src/pipeline/mod.ts";
import { generateSyntheticDataset, readManifest } from "../../src/data/mod.ts";
import { run, statuses, tempProject, write } from "./_helpers.ts";

const PIPELINE = `stages:
  dataset:
    uses: build-dataset
    with:
      frames: data/davis/JPEGImages
      annotations: data/davis/Annotations
      format: davis
    outs:
      manifest: out/dataset/manifest.json
`;

/** A project with a tiny synthetic DAVIS dataset and a build-dataset pipeline. */
async function datasetProject(): Promise<string> {
  const dir = await tempProject({ "pipeline.yaml": PIPELINE });
  await generateSyntheticDataset({
    out: `${dir}/data`,
    videos: 1,
    frames: 3,
    width: 32,
    height: 24,
    seed: 3,
    formats: ["davis"],
  });
  return dir;
}

Deno.test("build-dataset writes folders relative to the manifest's place; a moved project still reads", async () => {
  const dir = await datasetProject();
  const moved = `${dir}-moved`;
  try {
    const s = await run(dir, { registry: builtinRegistry() });
    assertEquals(statuses(s), { dataset: "ran" });
    const raw = JSON.parse(await Deno.readTextFile(`${dir}/out/dataset/manifest.json`));
    assertEquals([raw.schema, raw.frames, raw.annotations], [
      2,
      "../../data/davis/JPEGImages",
      "../../data/davis/Annotations",
    ]);
    await Deno.rename(dir, moved);
    const m = await readManifest(`${moved}/out/dataset/manifest.json`);
    assertEquals(m.frames, `${moved}/data/davis/JPEGImages`);
    assertEquals(m.annotations, `${moved}/data/davis/Annotations`);
    assert((await Deno.stat(m.frames)).isDirectory);
  } finally {
    await Deno.remove(moved, { recursive: true }).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("build-dataset's outs path is in its key: a moved manifest is rebuilt, not restored", async () => {
  const dir = await datasetProject();
  try {
    const keyOf = async () => {
      const e = await Engine.open(`${dir}/pipeline.yaml`, {
        registry: builtinRegistry(),
        root: dir,
      });
      const g = e.pipeline.groups[0];
      return await e.keyOf((g.instances ?? e.pipeline.expand(g))[0]);
    };
    const k1 = await keyOf();
    assertEquals(k1.components.outs, { manifest: "out/dataset/manifest.json" });
    await write(dir, "pipeline.yaml", PIPELINE.replace("out/dataset/", "out/other/"));
    const k2 = await keyOf();
    assertNotEquals(k2.key, k1.key);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readManifest() still reads a schema 1 manifest with absolute folders", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const old = {
      schema: 1,
      format: "davis",
      frames: "/data/davis/JPEGImages",
      annotations: "/data/davis/Annotations",
      options: { verify: "header", masks: "palette" },
      videos: [],
      totals: { videos: 0, frames: 0, annotatedFrames: 0, objects: 0 },
      warnings: [],
    };
    await Deno.writeTextFile(`${dir}/m.json`, JSON.stringify(old));
    const m = await readManifest(`${dir}/m.json`);
    assertEquals([m.schema, m.frames, m.annotations], [
      1,
      "/data/davis/JPEGImages",
      "/data/davis/Annotations",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build-dataset records its inputs' digests: a changed frame byte re-runs what reads the manifest", async () => {
  // The manifest lists names and counts, not bytes; without the digests an edited frame would
  // leave it identical and early cutoff would keep a training stage that reads it cached.
  const dir = await datasetProject();
  const pipeline = PIPELINE + `  reader:
    run: cp ${"${stages.dataset.outs.manifest}"} ${"${outs.copy}"}
    outs:
      copy: out/reader.json
`;
  try {
    await write(dir, "pipeline.yaml", pipeline);
    const s1 = await run(dir, { registry: builtinRegistry() });
    assertEquals(statuses(s1), { dataset: "ran", reader: "ran" });
    const raw = JSON.parse(await Deno.readTextFile(`${dir}/out/dataset/manifest.json`));
    assert(/^blake3:[0-9a-f]{64}$/.test(raw.digests.frames), JSON.stringify(raw.digests));
    assert(/^blake3:[0-9a-f]{64}$/.test(raw.digests.annotations), JSON.stringify(raw.digests));
    const video = [...Deno.readDirSync(`${dir}/data/davis/JPEGImages`)][0].name;
    const frame = `${dir}/data/davis/JPEGImages/${video}/00001.jpg`;
    const bytes = await Deno.readFile(frame);
    bytes[bytes.length - 3] ^= 1; // inside the entropy-coded data: still a readable JPEG
    await Deno.writeFile(frame, bytes);
    const s2 = await run(dir, { registry: builtinRegistry() });
    assertEquals(statuses(s2), { dataset: "ran", reader: "ran" });
    const raw2 = JSON.parse(await Deno.readTextFile(`${dir}/out/dataset/manifest.json`));
    assertNotEquals(raw2.digests.frames, raw.digests.frames);
    assertEquals(raw2.digests.annotations, raw.digests.annotations);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build-dataset refuses a default annotations folder that its key would not cover", async () => {
  const dir = await datasetProject();
  try {
    await write(
      dir,
      "pipeline.yaml",
      PIPELINE.replace("      annotations: data/davis/Annotations\n", ""),
    );
    const s = await run(dir, { registry: builtinRegistry() });
    assertEquals(statuses(s), { dataset: "failed" });
    const why = s.results.find((r) => r.stage === "dataset")!.reasons.join("; ");
    assert(why.includes("name that folder in `annotations:`"), why);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
