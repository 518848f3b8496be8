import { assert, assertEquals, assertStringIncludes, assertThrows } from "../assert.ts";
import {
  builtinRegistry,
  KindRegistry,
  parsePipeline,
  type SpecError,
  SpecErrors,
} from "../../src/pipeline/mod.ts";

const reg = new KindRegistry();
const parse = (
  text: string,
  opts: { vars?: Record<string, unknown>; root?: string; registry?: KindRegistry } = {},
) =>
  parsePipeline(text, {
    file: "p.yaml",
    registry: opts.registry ?? reg,
    checkInputs: !!opts.root,
    root: opts.root ?? "/nonexistent",
    vars: opts.vars,
  });

function errorsOf(text: string, opts: Parameters<typeof parse>[1] = {}): SpecError[] {
  const e = assertThrows(() => parse(text, opts), SpecErrors) as SpecErrors;
  return e.errors;
}

const at = (e: SpecError) => `${e.pos.line}:${e.pos.col}`;

Deno.test("parsePipeline() reports an unknown key at its line and column with a did-you-mean", () => {
  const [e, ...rest] = errorsOf("stages:\n  a:\n    run: echo\n    depz: [x]\n");
  assertEquals(rest.length, 0);
  assertEquals(at(e), "4:5");
  assertStringIncludes(e.message, 'Unknown key "depz"');
  assertStringIncludes(e.message, 'did you mean "deps"');
  assertStringIncludes(e.message, "p.yaml:4:5");
  assertStringIncludes(e.message, "4 |     depz: [x]\n  |     ^");
});

Deno.test("parsePipeline() reports wrong types and YAML syntax errors with positions", () => {
  const [e] = errorsOf("stages:\n  a:\n    run: echo\n    frozen: maybe\n");
  assertEquals(at(e), "4:13");
  assertStringIncludes(e.message, "Expected true or false");
  const [y] = errorsOf("stages:\n  a:\n    run: [unclosed\n");
  assertStringIncludes(y.message, "Invalid YAML");
  assertEquals(y.pos.line >= 3, true);
  const [d] = errorsOf("stages:\n  a:\n    run: x\n  a:\n    run: y\n");
  assertEquals(at(d), "4:3");
  assertStringIncludes(d.message, 'Duplicate key "a" (first at line 2)');
});

Deno.test("parsePipeline() reports all errors of a file together", () => {
  const errs = errorsOf(
    "vars:\n  n: 1\nstages:\n  a:\n    run: echo ${vars.m}\n    outs:\n      o: x.txt\n  b:\n    uses: nope\n  c:\n    run: echo ${stages.zz.outs.o}\n",
  );
  assertEquals(errs.map(at), ["5:17", "9:11", "11:17"]);
  assertStringIncludes(errs[0].message, 'Unknown var "m" (did you mean "n"?)');
  assertStringIncludes(errs[1].message, 'Unknown stage kind "nope"');
  assertStringIncludes(errs[2].message, 'no stage "zz"');
});

Deno.test("parsePipeline() names a cycle at the reference that closes it", () => {
  const errs = errorsOf(
    "stages:\n  a:\n    run: cat ${stages.c.outs.o} > ${outs.o}\n    outs: {o: a.txt}\n  b:\n    run: cat ${stages.a.outs.o} > ${outs.o}\n    outs: {o: b.txt}\n  c:\n    run: cat ${stages.b.outs.o} > ${outs.o}\n    outs: {o: c.txt}\n",
  );
  assertEquals(errs.length, 1);
  assertStringIncludes(errs[0].message, "Cycle: ");
  for (const s of ["a", "b", "c"]) assertStringIncludes(errs[0].message, s);
  assert(/Cycle: (\w) -> \w -> \w -> \1/.test(errs[0].message), errs[0].message);
});

Deno.test("parsePipeline() rejects duplicate and nested outputs, naming both stages", () => {
  const errs = errorsOf(
    "stages:\n  a:\n    run: x\n    outs:\n      o: out/d\n  b:\n    run: y\n    outs:\n      o: out/d/f.txt\n",
  );
  assertEquals(errs.length, 1);
  assertEquals(at(errs[0]), "9:10");
  assertStringIncludes(errs[0].message, 'overlaps the output of stage "a"');
});

Deno.test("parsePipeline() reports missing input paths at the dep", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${root}/there.txt`, "x");
    const errs = errorsOf(
      "stages:\n  a:\n    run: x\n    deps:\n      - there.txt\n      - gone.txt\n",
      { root },
    );
    assertEquals(errs.length, 1);
    assertEquals(at(errs[0]), "6:9");
    assertStringIncludes(errs[0].message, 'Input "gone.txt" of stage "a" does not exist');
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("parsePipeline() checks kind parameters against the kind's schema, with positions", () => {
  const errs = errorsOf(
    "stages:\n  f:\n    uses: extract-frames\n    with:\n      video: v.mp4\n      sample_rat: 2\n      quality: 300\n    outs:\n      dir: out/f\n",
    { registry: builtinRegistry() },
  );
  assertEquals(errs.map(at), ["6:7", "7:16"]);
  assertStringIncludes(errs[0].message, 'did you mean "sample_rate"');
  assertStringIncludes(errs[1].message, "<= 100");
});

Deno.test("parsePipeline() resolves vars, references and --var overrides, typed", () => {
  const p = parse(
    "vars:\n  n: 3\n  dir: out\nstages:\n  a:\n    run: echo ${vars.n} > ${outs.o}\n    outs:\n      o: ${vars.dir}/a.txt\n  b:\n    run: wc -c ${stages.a.outs.o} > ${outs.o}\n    outs:\n      o: ${vars.dir}/b.txt\n",
    { vars: { n: 7 } },
  );
  const [a] = p.groups[0].instances!;
  const [b] = p.groups[1].instances!;
  assertEquals(a.cmd, "echo 7 > ${outs.o}");
  assertEquals(a.outs, { o: "out/a.txt" });
  assertEquals(b.cmd, "wc -c out/a.txt > ${outs.o}");
  assertEquals(b.deps, ["out/a.txt"]);
  assertEquals(p.groups[1].upstream.map((u) => u.name), ["a"]);
  const [e] = errorsOf("vars:\n  n: 1\nstages:\n  a:\n    run: x\n", { vars: { m: 2 } });
  assertStringIncludes(e.message, '--var "m" is not declared');
});

Deno.test("parsePipeline() expands foreach over a list into one stage per item", () => {
  const p = parse(
    "stages:\n  t:\n    foreach: [small, large]\n    run: echo ${item} > ${outs.o}\n    outs:\n      o: out/${item}.txt\n",
  );
  const names = p.groups[0].instances!.map((s) => s.name);
  assertEquals(names, ["t@small", "t@large"]);
  assertEquals(p.groups[0].instances![1].outs, { o: "out/large.txt" });
  assertEquals(p.groups[0].outs, { o: "out" });
  const [e] = errorsOf(
    "stages:\n  t:\n    foreach: [a]\n    run: x\n    outs:\n      o: out/x.txt\n",
  );
  assertStringIncludes(e.message, "must contain ${item...}");
});

Deno.test("parsePipeline() expands a foreach glob of files, with item.stem", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/v`);
    for (const n of ["b.mp4", "a.mp4", "c.txt"]) await Deno.writeTextFile(`${root}/v/${n}`, n);
    const p = parse(
      "stages:\n  f:\n    foreach: v/*.mp4\n    run: cp ${item} ${outs.o}\n    deps: ['${item}']\n    outs:\n      o: out/${item.stem}\n",
      { root },
    );
    const inst = p.groups[0].instances!;
    assertEquals(inst.map((s) => s.name), ["f@a", "f@b"]);
    assertEquals(inst[0].deps, ["v/a.mp4"]);
    assertEquals(inst[0].cmd, "cp v/a.mp4 ${outs.o}");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("parsePipeline() quotes interpolated values for the shell", () => {
  const p = parse(
    'vars:\n  name: "it\'s a b"\nstages:\n  a:\n    run: echo ${vars.name} > ${outs.o}\n    outs:\n      o: a.txt\n',
  );
  assertEquals(p.groups[0].instances![0].cmd, "echo 'it'\\''s a b' > ${outs.o}");
});

Deno.test("parsePipeline() parses the demo pipeline", async () => {
  const text = await Deno.readTextFile(new URL("../../pipelines/demo.yaml", import.meta.url));
  const p = parsePipeline(text, {
    file: "pipelines/demo.yaml",
    registry: builtinRegistry(),
    checkInputs: false,
    root: "/nonexistent",
  });
  assertEquals(p.groups.map((g) => g.name), ["synth", "frames", "dataset", "train", "eval"]);
  assertEquals(p.groups[1].instances, null); // expanded after synth ran
  assertEquals(p.groups[2].upstream.map((u) => u.name).sort(), ["frames", "synth"]);
});
