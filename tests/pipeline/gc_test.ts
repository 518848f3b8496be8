import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { gcStore, readLockFile, Store, verifyStore } from "../../src/pipeline/mod.ts";
import { run, statuses, tempProject } from "./_helpers.ts";

const PIPE = `vars:
  v: 1
stages:
  a:
    run: mkdir -p \${outs.d}; echo a\${vars.v} > \${outs.d}/x.txt; echo same > \${outs.d}/y.txt
    outs:
      d: out/a
`;

async function entryKeys(store: Store): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of store.entries()) keys.push(e.key);
  return keys.sort();
}

Deno.test("gcStore() keeps what lock files reference, frees the rest; dry run deletes nothing", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE });
  try {
    await run(dir, { vars: { v: 1 } });
    const k1 = (await readLockFile(`${dir}/pipeline.lock`, "")).stages.a.key;
    await run(dir, { vars: { v: 2 } });
    const k2 = (await readLockFile(`${dir}/pipeline.lock`, "")).stages.a.key;
    const store = new Store(`${dir}/.sam2`);
    assertEquals(await entryKeys(store), [k1, k2].sort());
    const keepLast = await gcStore(store, { keepLast: 2, dryRun: true });
    assertEquals(keepLast.entriesRemoved.length, 0);
    const dry = await gcStore(store, { dryRun: true });
    assertEquals(dry.entriesRemoved.map((e) => e.key), [k1]);
    assertEquals(dry.objectsRemoved, 2, "a1's x.txt and the first log; y.txt is shared");
    assertEquals(await entryKeys(store), [k1, k2].sort(), "dry run deletes nothing");
    const real = await gcStore(store);
    assertEquals(real.entriesRemoved.map((e) => e.key), [k1]);
    assertEquals(await entryKeys(store), [k2]);
    assertEquals((await verifyStore(store)).corrupted.length, 0);
    // the old parameter now has to run again (its outputs were freed)
    assertEquals(statuses(await run(dir, { vars: { v: 1 } })), { a: "ran" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gcStore() keeps pinned entries and entries newer than a date", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE });
  try {
    await run(dir, { vars: { v: 1 } });
    const k1 = (await readLockFile(`${dir}/pipeline.lock`, "")).stages.a.key;
    await run(dir, { vars: { v: 2 } });
    const store = new Store(`${dir}/.sam2`);
    assertEquals(
      (await gcStore(store, { dryRun: true, keepNewer: new Date(Date.now() - 60_000) }))
        .entriesRemoved.length,
      0,
    );
    const { pinEntries } = await import("../../src/pipeline/mod.ts");
    assertEquals(await pinEntries(store, k1.slice(0, 10), true), [k1]);
    assertEquals((await gcStore(store)).entriesRemoved.length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verifyStore() reports a corrupted stored file and the next run repairs it", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE });
  try {
    await run(dir);
    const lock = await readLockFile(`${dir}/pipeline.lock`, "");
    const store = new Store(`${dir}/.sam2`);
    const entry = (await store.getEntry(lock.stages.a.key))!;
    const tree = entry.outs.d;
    assert(tree.type === "dir");
    const xHash = tree.entries["x.txt"].hash;
    const obj = store.objectPath(xHash);
    await Deno.chmod(obj, 0o644);
    await Deno.writeTextFile(obj, "bit rot");
    const r = await verifyStore(store);
    assertEquals(r.corrupted.map((c) => c.hash), [xHash]);
    assertEquals(r.entriesDropped.map((e) => e.key), [lock.stages.a.key]);
    // the workspace copy is intact: the next run finds the stage up to date and stores it again
    assertEquals(statuses(await run(dir)), { a: "up-to-date" });
    const again = await verifyStore(store);
    assertEquals(again.corrupted.length, 0);
    assert(store.has(xHash));
    assert((await store.getEntry(lock.stages.a.key)) !== null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() re-runs a stage whose cached outputs are damaged instead of restoring them", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE });
  try {
    await run(dir, { vars: { v: 1 } });
    const k1 = (await readLockFile(`${dir}/pipeline.lock`, "")).stages.a.key;
    await run(dir, { vars: { v: 2 } });
    const store = new Store(`${dir}/.sam2`);
    const e1 = (await store.getEntry(k1))!;
    const t = e1.outs.d;
    assert(t.type === "dir");
    const obj = store.objectPath(t.entries["x.txt"].hash);
    await Deno.chmod(obj, 0o644);
    await Deno.writeTextFile(obj, "a9\n");
    const infos: string[] = [];
    const s = await run(dir, {
      vars: { v: 1 },
      reporter: {
        stageStart() {},
        stageProgress() {},
        stageLog() {},
        stageEnd() {},
        info: (m) => infos.push(m),
        close() {},
      },
    });
    assertEquals(statuses(s), { a: "ran" });
    assertStringIncludes(infos.join("\n"), "damaged");
    assertEquals(await Deno.readTextFile(`${dir}/out/a/x.txt`), "a1\n");
    assertEquals((await verifyStore(store)).corrupted.length, 0, "the damaged object was replaced");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
