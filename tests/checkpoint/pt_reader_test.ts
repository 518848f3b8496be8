import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  CheckpointError,
  type HostTensor,
  isHostTensor,
  LazyTensor,
  loadPt,
  openPt,
  PyDict,
  tensorsEqual,
  toFloat32,
} from "../../src/checkpoint/mod.ts";
import { flatten, local, MODEL_PT, SHARED, tempDir } from "./_helpers.ts";

const expected = JSON.parse(await Deno.readTextFile(local("expected.json")));

for (const name of ["dtypes", "views", "params", "trainer", "legacy_views", "legacy_trainer"]) {
  Deno.test(`loadPt() decodes torch's ${name}.pt like torch.load`, async () => {
    const got = flatten(await loadPt(local(`${name}.pt`)));
    const want = expected[name] as Record<string, unknown>;
    // torch's json uses "OrderedDict"/"dict" type names like ours.
    assertEquals(Object.keys(got).sort(), Object.keys(want).sort());
    for (const k of Object.keys(want)) assertEquals(got[k], want[k], k);
  });
}

Deno.test("loadPt() reads sam2-mini/model.pt: 371 float32 entries in file order", async () => {
  const ckpt = await loadPt(MODEL_PT);
  assert(ckpt instanceof PyDict);
  assertEquals([...ckpt.keys()], ["model"]);
  const sd = ckpt.get("model") as PyDict;
  assert(sd.ordered, "state_dict is an OrderedDict");
  assertEquals(sd.size, 371);
  const keys: [string, number[], number][] = JSON.parse(
    await Deno.readTextFile(new URL("sam2-mini/keys/mini.json", SHARED)),
  ).keys;
  assertEquals([...sd.keys()], keys.map((k) => k[0]));
  for (const [name, shape] of keys) {
    assertEquals((sd.get(name) as { shape: number[] }).shape, shape);
  }
  let total = 0;
  for (const v of sd.values()) {
    assert(isHostTensor(v));
    assertEquals(v.dtype, "float32");
    total += v.data.byteLength / 4;
  }
  assertEquals(total, 1_284_962); // README: state_dict numel
  const g = sd.get("sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
  assert(isHostTensor(g));
  assertEquals(g.shape, [2, 32]);
  assert(Math.abs(toFloat32(g)[0] - -0.2609727382659912) < 1e-7);
  assert(sd.attrs?.has("_metadata"), "the state_dict's _metadata survives");
});

Deno.test("openPt() gives lazy tensors and load(path) reads only that subtree", async () => {
  const a = await openPt(MODEL_PT);
  try {
    const sd = (a.root as PyDict<unknown>).get("model") as PyDict<unknown>;
    const lazy = sd.get("no_mem_embed");
    assert(lazy instanceof LazyTensor);
    assertEquals(lazy.shape, [1, 1, 64]);
    assertEquals(lazy.dtype, "float32");
    const t = await lazy.load();
    assertEquals(t.data.byteLength, 256);
    const model = await a.load(["model"]);
    assert(model instanceof PyDict && model.size === 371);
    assert(tensorsEqual(model.get("no_mem_embed") as never, t));
    await assertRejects(() => a.load(["optimizer"]), CheckpointError, 'Key "optimizer" not found');
  } finally {
    a.close();
  }
});

Deno.test("loadPt() reads the legacy (non-zip) format", async () => {
  const a = await openPt(local("legacy.pt"));
  try {
    assertEquals(a.version, 0);
    const v = await a.load() as PyDict;
    assertEquals([...toFloat32(v.get("x") as HostTensor)], [1, 1]);
  } finally {
    a.close();
  }
});

Deno.test("loadPt() says what a non-checkpoint file is not", async () => {
  const [dir, cleanup] = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/x.pt`, "just text, not a checkpoint");
    await assertRejects(() => loadPt(`${dir}/x.pt`), CheckpointError, "Not a torch.save zip");
  } finally {
    await cleanup();
  }
});

Deno.test("loadPt() names a missing file", async () => {
  await assertRejects(() => loadPt("/nonexistent/x.pt"), CheckpointError, "not found");
});
