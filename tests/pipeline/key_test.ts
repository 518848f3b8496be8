import { assert, assertEquals, assertNotEquals } from "../assert.ts";
import {
  builtinRegistry,
  Engine,
  KindRegistry,
  s,
  type StageKind,
} from "../../src/pipeline/mod.ts";
import { age, tempProject, write } from "./_helpers.ts";

async function keys(dir: string, registry = new KindRegistry(), vars?: Record<string, unknown>) {
  const e = await Engine.open(`${dir}/pipeline.yaml`, { registry, root: dir, vars });
  const out: Record<string, string> = {};
  for (const g of e.pipeline.groups) {
    for (const st of g.instances ?? e.pipeline.expand(g)) out[st.name] = (await e.keyOf(st)).key;
  }
  await e.save();
  return { keys: out, hashed: e.stats.hashedFiles };
}

const PIPE = `vars:
  n: 1
stages:
  a:
    run: cat in/x.txt > \${outs.o}; echo \${vars.n} >> \${outs.o}
    deps: [in]
    outs:
      o: out/a.txt
`;

Deno.test("Engine.keyOf() changes exactly when an input byte or a parameter changes", async () => {
  const dir = await tempProject({
    "pipeline.yaml": PIPE,
    "in/x.txt": "hello",
    "in/y.txt": "y",
    "other.txt": "o",
  });
  try {
    const k0 = (await keys(dir)).keys.a;
    await write(dir, "other.txt", "unrelated change");
    assertEquals((await keys(dir)).keys.a, k0, "an unrelated file must not change the key");
    await write(dir, "in/x.txt", "hellp");
    const k1 = (await keys(dir)).keys.a;
    assertNotEquals(k1, k0, "one changed byte must change the key");
    assertNotEquals(
      (await keys(dir, undefined, { n: 2 })).keys.a,
      k1,
      "a changed var must change the key",
    );
    assertEquals((await keys(dir, undefined, { n: 1 })).keys.a, k1);
    await write(dir, "in/z.txt", "");
    assertNotEquals((await keys(dir)).keys.a, k1, "a new file in an input folder changes the key");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine.keyOf() ignores touch and does not reread unchanged inputs", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE, "in/x.txt": "hello", "in/y.txt": "y" });
  try {
    for (const f of ["in/x.txt", "in/y.txt", "pipeline.yaml"]) await age(`${dir}/${f}`);
    const first = await keys(dir);
    assertEquals(first.hashed, 2);
    const again = await keys(dir);
    assertEquals(again.hashed, 0, "a warm stat cache must not read files again");
    assertEquals(again.keys.a, first.keys.a);
    const now = new Date();
    await Deno.utime(`${dir}/in/x.txt`, now, now); // touch
    const touched = await keys(dir);
    assertEquals(touched.hashed, 1, "a touched file is rehashed");
    assertEquals(touched.keys.a, first.keys.a, "touch alone never changes the key");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("StatCache does not trust an entry recorded within the racy window", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE, "in/x.txt": "hello" });
  try {
    const k0 = (await keys(dir)).keys.a; // x.txt is fresh: its entry is racy
    // same size, same second: rewrite the content and put the old mtime back
    const st = await Deno.stat(`${dir}/in/x.txt`);
    await Deno.writeTextFile(`${dir}/in/x.txt`, "jello");
    await Deno.utime(`${dir}/in/x.txt`, st.atime!, st.mtime!);
    assertNotEquals((await keys(dir)).keys.a, k0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine.keyOf() changes when the kind's own code changes, not other modules", async () => {
  const dir = await tempProject({
    "pipeline.yaml":
      "stages:\n  k:\n    uses: upper\n    with:\n      text: hi\n    outs:\n      out: out/k.txt\n",
    "kinds/upper.ts": 'import { shout } from "./shout.ts";\nexport const impl = shout;\n',
    "kinds/shout.ts": "export const shout = (s: string) => s.toUpperCase();\n",
    "kinds/unrelated.ts": "export const x = 1;\n",
  });
  try {
    const kind: StageKind<{ text: string }> = {
      name: "upper",
      description: "test kind",
      params: s.object({ text: s.string() }),
      outputs: { out: "file" },
      modules: [`file://${dir}/kinds/upper.ts`],
      async run(ctx) {
        await Deno.writeTextFile(ctx.outputs.out, ctx.params.text.toUpperCase());
      },
    };
    const reg = () => new KindRegistry().register(kind);
    const k0 = (await keys(dir, reg())).keys.k;
    await write(dir, "kinds/unrelated.ts", "export const x = 2;\n");
    assertEquals((await keys(dir, reg())).keys.k, k0);
    await write(dir, "kinds/shout.ts", "export const shout = (s: string) => s.toLowerCase();\n");
    const k1 = (await keys(dir, reg())).keys.k;
    assertNotEquals(k1, k0, "editing an imported module must change the key");
    const e = await Engine.open(`${dir}/pipeline.yaml`, { registry: reg(), root: dir });
    const sk = await e.keyOf(e.pipeline.groups[0].instances![0]);
    assertEquals(Object.keys(sk.components.codeFiles!).sort(), [
      "kinds/shout.ts",
      "kinds/upper.ts",
    ]);
    assert(sk.components.code);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every built-in kind lists the modules it imports lazily (they are in its code hash)", async () => {
  for (const kind of builtinRegistry().all()) {
    const own = kind.modules[0];
    const text = await Deno.readTextFile(new URL(own));
    const lazy = [...text.matchAll(/importLazily<[\s\S]*?>\(\s*"([^"]+)"/g)].map((m) =>
      new URL(m[1], own).href
    );
    assert(lazy.length > 0, `${kind.name}: no lazy import found in ${own}`);
    for (const url of lazy) {
      assert(kind.modules.includes(url), `${kind.name}: ${url} is imported but not in modules`);
    }
  }
});
