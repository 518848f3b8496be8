import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { cli, tempProject } from "../pipeline/_helpers.ts";

const PIPE = `vars:
  v: 1
stages:
  a:
    run: echo a\${vars.v} > \${outs.o}
    outs:
      o: out/a.txt
  b:
    run: cat \${stages.a.outs.o} > \${outs.o}
    outs:
      o: out/b.txt
`;

Deno.test("run --help lists its options; unknown options and extra arguments are rejected", async () => {
  const help = await cli(["run", "--help"]);
  assertEquals(help.code, 0);
  for (const o of ["--only", "--force", "--dry-run", "--jobs", "--var", "--no-wait", "--store"]) {
    assertStringIncludes(help.stdout, o);
  }
  const bad = await cli(["run", "x.yaml", "--bogus"]);
  assert(bad.code !== 0);
  assertStringIncludes(bad.stderr, "unknown option '--bogus'");
  const extra = await cli(["status", "x.yaml", "y.yaml"]);
  assert(extra.code !== 0);
  assertStringIncludes(extra.stderr, "too many arguments");
  const jobs = await cli(["run", "x.yaml", "--jobs", "0"]);
  assert(jobs.code !== 0);
  assertStringIncludes(jobs.stderr, "expected a positive integer");
  for (const c of ["status", "dag", "explain", "cache", "cache gc", "cache verify", "cache ls"]) {
    const h = await cli([...c.split(" "), "--help"]);
    assertEquals(h.code, 0, c);
  }
});

Deno.test("run prints a summary, exits non-zero on failure, and reports spec errors with positions", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE });
  try {
    const r1 = await cli(["run", "pipeline.yaml"], { cwd: dir });
    assertEquals(r1.code, 0, r1.stderr);
    assertStringIncludes(
      r1.stdout,
      "pipeline: 2 ran, 0 restored from cache, 0 up to date, 0 failed, 0 skipped",
    );
    const r2 = await cli(["run", "pipeline.yaml", "--var", "v=2", "--json"], { cwd: dir });
    const j = JSON.parse(r2.stdout);
    assertEquals(j.results.map((r: { status: string }) => r.status), ["ran", "ran"]);
    await Deno.writeTextFile(`${dir}/bad.yaml`, PIPE.replace("run: cat", "rnu: cat"));
    const r3 = await cli(["run", "bad.yaml"], { cwd: dir });
    assertEquals(r3.code, 2);
    assertStringIncludes(
      r3.stderr,
      'bad.yaml:9:5: Unknown key "rnu" in a stage (did you mean "run"?)',
    );
    assertStringIncludes(r3.stderr, "9 |     rnu: cat");
    await Deno.writeTextFile(
      `${dir}/fail.yaml`,
      PIPE.replace("echo a${vars.v} > ${outs.o}", "exit 4"),
    );
    const r4 = await cli(["run", "fail.yaml"], { cwd: dir });
    assertEquals(r4.code, 1);
    assertStringIncludes(r4.stdout, "failed   a: command failed (exit code 4)");
    assertStringIncludes(r4.stdout, "skipped  b: upstream a did not complete");
    const r5 = await cli(["run", "pipeline.yaml", "--var", "nope=1"], { cwd: dir });
    assertEquals(r5.code, 2);
    assertStringIncludes(r5.stderr, '--var "nope" is not declared');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("status, explain and dag describe the pipeline", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE });
  try {
    await cli(["run", "pipeline.yaml"], { cwd: dir });
    const st = await cli(["status", "pipeline.yaml", "--var", "v=3"], { cwd: dir });
    assertEquals(st.code, 0, st.stderr);
    assertMatch(st.stdout, /stale\s+a: cmd changed/);
    const ex = await cli(["explain", "pipeline.yaml", "a", "--var", "v=3", "--json"], { cwd: dir });
    const x = JSON.parse(ex.stdout);
    assertEquals(x.decision, "run");
    const cmd = x.rows.find((r: { component: string }) => r.component === "cmd");
    assertEquals([cmd.before, cmd.now, cmd.changed], [
      "echo a1 > ${outs.o}",
      "echo a3 > ${outs.o}",
      true,
    ]);
    const text = await cli(["explain", "pipeline.yaml", "a", "--var", "v=3"], { cwd: dir });
    assertStringIncludes(text.stdout, "* cmd");
    assertStringIncludes(text.stdout, "last: echo a1 > ${outs.o}");
    const dot = await cli(["dag", "pipeline.yaml", "--format", "dot"], { cwd: dir });
    assertStringIncludes(dot.stdout, '"a" -> "b";');
    const mm = await cli(["dag", "pipeline.yaml", "--mermaid"], { cwd: dir });
    assertStringIncludes(mm.stdout, "flowchart LR");
    assertStringIncludes(mm.stdout, "a --> b");
    const tx = await cli(["dag", "pipeline.yaml"], { cwd: dir });
    assertStringIncludes(tx.stdout, "b [run]  <- a");
    const ls = await cli(["cache", "ls", "--json"], { cwd: dir });
    assertEquals(JSON.parse(ls.stdout).length, 2);
    const gc = await cli(["cache", "gc", "--dry-run"], { cwd: dir });
    assertStringIncludes(gc.stdout, "would free 0 bytes");
    const vf = await cli(["cache", "verify"], { cwd: dir });
    assertEquals(vf.code, 0);
    assertStringIncludes(vf.stdout, "0 corrupted");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run --kinds plugs in a third-party stage kind through the same interface", async () => {
  const schema = new URL("../../src/pipeline/schema.ts", import.meta.url).href;
  const dir = await tempProject({
    "kinds.ts": `import { s } from "${schema}";
export const kinds = [{
  name: "upper",
  description: "Upper-cases text",
  params: s.object({ text: s.string() }),
  outputs: { out: "file" },
  modules: [import.meta.url],
  async run(ctx) {
    ctx.progress(1, 1);
    await Deno.writeTextFile(ctx.outputs.out, ctx.params.text.toUpperCase());
  },
}];
`,
    "pipeline.yaml":
      "stages:\n  u:\n    uses: upper\n    with:\n      text: hello\n    outs:\n      out: out/u.txt\n",
  });
  try {
    const r = await cli(["run", "pipeline.yaml", "--kinds", "kinds.ts"], { cwd: dir });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await Deno.readTextFile(`${dir}/out/u.txt`), "HELLO");
    const again = await cli(["run", "pipeline.yaml", "--kinds", "kinds.ts"], { cwd: dir });
    assertStringIncludes(again.stdout, "1 up to date");
    const without = await cli(["run", "pipeline.yaml"], { cwd: dir });
    assertEquals(without.code, 2);
    assertStringIncludes(without.stderr, 'Unknown stage kind "upper"');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
