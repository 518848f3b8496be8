import { assertEquals, assertStringIncludes } from "../assert.ts";
import { formatSummary, readLockFile } from "../../src/pipeline/mod.ts";
import { run, statuses, tempProject, write } from "./_helpers.ts";

const THREE = `vars:
  v: 1
stages:
  a:
    run: echo a\${vars.v} > \${outs.o}
    outs:
      o: out/a.txt
  b:
    run: cat \${stages.a.outs.o} > \${outs.o}; echo b >> \${outs.o}
    outs:
      o: out/b.txt
  c:
    run: echo c > \${outs.o}
    outs:
      o: out/c.txt
`;

Deno.test("runPipeline() runs stages, then finds them up to date", async () => {
  const dir = await tempProject({ "pipeline.yaml": THREE });
  try {
    const s1 = await run(dir);
    assertEquals(statuses(s1), { a: "ran", b: "ran", c: "ran" });
    assertEquals(await Deno.readTextFile(`${dir}/out/b.txt`), "a1\nb\n");
    const s2 = await run(dir);
    assertEquals(statuses(s2), { a: "up-to-date", b: "up-to-date", c: "up-to-date" });
    const lock = await readLockFile(`${dir}/pipeline.lock`, "");
    assertEquals(lock.schema, "sam2-lock/1");
    assertEquals(lock.stages.b.algo, "blake3");
    assertEquals(Object.keys(lock.stages.b.components.deps), ["out/a.txt"]);
    assertEquals(lock.stages.a.outs.o.path, "out/a.txt");
    assertStringIncludes(
      formatSummary(s2),
      "0 ran, 0 restored from cache, 3 up to date, 0 failed, 0 skipped",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() restores old outputs when a parameter is reverted", async () => {
  const dir = await tempProject({ "pipeline.yaml": THREE });
  try {
    await run(dir, { vars: { v: 1 } });
    const s2 = await run(dir, { vars: { v: 2 } });
    assertEquals(statuses(s2), { a: "ran", b: "ran", c: "up-to-date" });
    assertEquals(await Deno.readTextFile(`${dir}/out/b.txt`), "a2\nb\n");
    const s3 = await run(dir, { vars: { v: 1 } });
    assertEquals(statuses(s3), { a: "restored", b: "restored", c: "up-to-date" });
    assertEquals(await Deno.readTextFile(`${dir}/out/b.txt`), "a1\nb\n");
    // a restored file is a copy: editing it in place leaves the store intact
    await Deno.writeTextFile(`${dir}/out/a.txt`, "edited");
    const s4 = await run(dir, { vars: { v: 1 } });
    assertEquals(s4.results.find((r) => r.stage === "a")!.status, "restored");
    assertEquals(await Deno.readTextFile(`${dir}/out/a.txt`), "a1\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() keeps dependents cached when an upstream re-run gives the same bytes", async () => {
  const dir = await tempProject({ "pipeline.yaml": THREE });
  try {
    await run(dir);
    await write(
      dir,
      "pipeline.yaml",
      THREE.replace("echo a${vars.v} >", "printf 'a%s\\n' ${vars.v} >"),
    );
    const s = await run(dir);
    assertEquals(statuses(s), { a: "ran", b: "up-to-date", c: "up-to-date" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() stops only the dependents of a failing stage", async () => {
  const dir = await tempProject({
    "pipeline.yaml": THREE.replace("echo a${vars.v} > ${outs.o}", "echo broken >&2; exit 3"),
  });
  try {
    const s = await run(dir);
    assertEquals(statuses(s), { a: "failed", b: "skipped", c: "ran" });
    assertEquals(s.ok, false);
    const a = s.results.find((r) => r.stage === "a")!;
    assertStringIncludes(a.reasons[0], "exit code 3");
    assertStringIncludes(a.reasons[0], "broken");
    assertStringIncludes(await Deno.readTextFile(`${dir}/${a.log}`), "broken");
    assertStringIncludes(formatSummary(s), "skipped  b: upstream a did not complete");
    const lock = await readLockFile(`${dir}/pipeline.lock`, "");
    assertEquals(Object.keys(lock.stages), ["c"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() with only runs the named stages and what they need", async () => {
  const dir = await tempProject({ "pipeline.yaml": THREE });
  try {
    const s = await run(dir, { only: ["b"] });
    assertEquals(statuses(s), { a: "ran", b: "ran" });
    const s2 = await run(dir, { only: ["c"], force: true });
    assertEquals(statuses(s2), { c: "ran" });
    const s3 = await run(dir, { force: ["a"] });
    assertEquals(statuses(s3), { a: "ran", b: "up-to-date", c: "up-to-date" });
    assertEquals(s3.results[0].reasons[0], "forced");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() dry run says what would happen and changes nothing", async () => {
  const dir = await tempProject({ "pipeline.yaml": THREE });
  try {
    const s = await run(dir, { dryRun: true });
    assertEquals(statuses(s), { a: "would-run", b: "would-run", c: "would-run" });
    let exists = true;
    try {
      await Deno.stat(`${dir}/out`);
    } catch {
      exists = false;
    }
    assertEquals(exists, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() foreach: adding an item runs only the new one; removing one prunes it", async () => {
  const dir = await tempProject({
    "pipeline.yaml": `stages:
  each:
    foreach: in/*.txt
    run: tr a-z A-Z < \${item} > \${outs.o}
    deps: ["\${item}"]
    outs:
      o: out/up/\${item.stem}.txt
  all:
    run: cat \${stages.each.outs.o}/* > \${outs.o}
    outs:
      o: out/all.txt
`,
    "in/a.txt": "a\n",
    "in/b.txt": "b\n",
  });
  try {
    assertEquals(statuses(await run(dir)), { "each@a": "ran", "each@b": "ran", all: "ran" });
    await write(dir, "in/c.txt", "c\n");
    assertEquals(statuses(await run(dir)), {
      "each@a": "up-to-date",
      "each@b": "up-to-date",
      "each@c": "ran",
      all: "ran",
    });
    assertEquals(await Deno.readTextFile(`${dir}/out/all.txt`), "A\nB\nC\n");
    await Deno.remove(`${dir}/in/a.txt`);
    assertEquals(statuses(await run(dir)), {
      "each@b": "up-to-date",
      "each@c": "up-to-date",
      all: "ran",
    });
    assertEquals(await Deno.readTextFile(`${dir}/out/all.txt`), "B\nC\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() foreach over an upstream output expands after the upstream ran", async () => {
  const dir = await tempProject({
    "pipeline.yaml": `stages:
  gen:
    run: mkdir -p \${outs.d}; for i in 1 2 3; do echo $i > \${outs.d}/f$i.txt; done
    outs:
      d: out/gen
  each:
    foreach: \${stages.gen.outs.d}/*.txt
    run: cat \${item} \${item} > \${outs.o}
    outs:
      o: out/each/\${item.stem}
`,
  });
  try {
    const s = await run(dir);
    assertEquals(statuses(s), { gen: "ran", "each@f1": "ran", "each@f2": "ran", "each@f3": "ran" });
    assertEquals(await Deno.readTextFile(`${dir}/out/each/f2`), "2\n2\n");
    assertEquals(Object.values(statuses(await run(dir))).every((x) => x === "up-to-date"), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() does not cache a stage whose inputs changed while it ran", async () => {
  const dir = await tempProject({
    "pipeline.yaml": `stages:
  a:
    run: cat in.txt > \${outs.o}; echo more >> in.txt
    deps: [in.txt]
    outs:
      o: out.txt
`,
    "in.txt": "x\n",
  });
  try {
    const s = await run(dir);
    assertEquals(statuses(s), { a: "ran" });
    assertStringIncludes(s.results[0].notCached ?? "", "inputs changed while it ran: in.txt");
    assertStringIncludes(formatSummary(s), "not cached a");
    const lock = await readLockFile(`${dir}/pipeline.lock`, "");
    assertEquals(lock.stages.a, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() fails a stage that does not write its declared output", async () => {
  const dir = await tempProject({
    "pipeline.yaml":
      "stages:\n  a:\n    run: echo hi > elsewhere.txt\n    outs:\n      o: out.txt\n",
  });
  try {
    const s = await run(dir);
    assertEquals(statuses(s), { a: "failed" });
    assertStringIncludes(s.results[0].reasons[0], 'did not write its output "o"');
    assertStringIncludes(s.results[0].reasons[0], "${outs.o}");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() frozen stages never run; always_changed stages always do", async () => {
  const dir = await tempProject({
    "pipeline.yaml": `stages:
  a:
    run: date +%s%N > \${outs.o}
    always_changed: true
    outs:
      o: out/a.txt
  f:
    run: echo never > \${outs.o}
    frozen: true
    outs:
      o: out/f.txt
`,
    "out/f.txt": "kept\n",
  });
  try {
    const s1 = await run(dir);
    assertEquals(statuses(s1), { a: "ran", f: "frozen" });
    assertEquals(await Deno.readTextFile(`${dir}/out/f.txt`), "kept\n");
    const s2 = await run(dir);
    assertEquals(statuses(s2), { a: "ran", f: "frozen" });
    assertEquals(s2.results[0].reasons, ["always_changed"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runPipeline() with a shared store restores in another checkout without running", async () => {
  const files = { "pipeline.yaml": THREE };
  const a = await tempProject(files);
  const b = await tempProject(files);
  const store = await Deno.makeTempDir();
  try {
    assertEquals(statuses(await run(a, { storeDir: store })), { a: "ran", b: "ran", c: "ran" });
    const s = await run(b, { storeDir: store });
    assertEquals(statuses(s), { a: "restored", b: "restored", c: "restored" });
    assertEquals(await Deno.readTextFile(`${b}/out/b.txt`), "a1\nb\n");
  } finally {
    for (const d of [a, b, store]) await Deno.remove(d, { recursive: true });
  }
});
