/**
 * Checks against real PyTorch (Debian's python3-torch under /usr/bin/python3). Skipped, and
 * shown as ignored, where that torch is not installed: `apt-get install -y python3-torch`.
 */
import { assert, assertEquals } from "../assert.ts";
import { loadPt, PyDict, savePt } from "../../src/checkpoint/mod.ts";
import { flatten, hasTorch, local, MODEL_PT, SHARED, tempDir, torchCheck } from "./_helpers.ts";

const ignore = !hasTorch();

Deno.test({
  name: "torch.load(weights_only=True) reads our model.pt bitwise equal to the original",
  ignore,
  fn: async () => {
    const [dir, cleanup] = await tempDir();
    try {
      await savePt(`${dir}/ours.pt`, await loadPt(MODEL_PT));
      const r = await torchCheck("compare", MODEL_PT, `${dir}/ours.pt`);
      assertEquals(r.code, 0, r.out);
      const res = JSON.parse(r.out);
      assertEquals(res.equal, true);
      assertEquals(res.weights_only, [true, true], "both load with the restricted unpickler");
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "torch.load reads our rewrites of dtypes/views/params/trainer.pt identically",
  ignore,
  fn: async () => {
    const [dir, cleanup] = await tempDir();
    try {
      const pairs: string[] = [];
      for (const name of ["dtypes", "views", "params", "trainer"]) {
        // params.pt is rewritten with zip64 records, to check torch reads those too.
        await savePt(`${dir}/${name}.pt`, await loadPt(local(`${name}.pt`)), {
          forceZip64: name === "params",
        });
        pairs.push(local(`${name}.pt`), `${dir}/${name}.pt`);
      }
      const r = await torchCheck("compare", ...pairs);
      assertEquals(r.code, 0, r.out);
      assertEquals(r.out.trim().split("\n").length, 4, r.out);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "loadPt() matches torch.load on freshly generated files",
  ignore,
  fn: async () => {
    const [dir, cleanup] = await tempDir();
    try {
      const r = await torchCheck("make-fixtures", dir);
      assertEquals(r.code, 0, r.out);
      const expected = JSON.parse(await Deno.readTextFile(`${dir}/expected.json`));
      for (const name of ["dtypes", "views", "params", "trainer"]) {
        const got = flatten(await loadPt(`${dir}/${name}.pt`));
        assertEquals(got, expected[name], name);
      }
      assert(Object.keys(expected).length === 4);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "the reference's build_sam._load_checkpoint loads our model.pt into SAM2Base",
  ignore,
  fn: async () => {
    const [dir, cleanup] = await tempDir();
    try {
      const config = new URL("sam2-mini/config.yaml", SHARED).pathname;
      const ckpt = await loadPt(MODEL_PT) as PyDict;
      await savePt(`${dir}/ours.pt`, ckpt);
      const ok = await torchCheck("load-sam2", `${dir}/ours.pt`, config);
      assertEquals(ok.code, 0, ok.out);
      assertEquals(JSON.parse(ok.out.trim().split("\n").at(-1)!).entries, 371);
      // The check has teeth: one key short and the reference refuses the file.
      const model = new PyDict(ckpt.get("model") as PyDict);
      model.delete("no_mem_embed");
      await savePt(`${dir}/short.pt`, new Map([["model", model]]));
      const bad = await torchCheck("load-sam2", `${dir}/short.pt`, config);
      assert(bad.code !== 0, "a missing key must fail the reference loader");
    } finally {
      await cleanup();
    }
  },
});
