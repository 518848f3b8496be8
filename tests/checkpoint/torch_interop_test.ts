/**
 * Checks against real PyTorch (Debian's python3-torch under /usr/bin/python3). Skipped, and
 * shown as ignored, where that torch is not installed: `apt-get install -y python3-torch`.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  float32Tensor,
  loadPt,
  PyDict,
  PyFloat,
  PyTuple,
  savePt,
} from "../../src/checkpoint/mod.ts";
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
      for (
        const name of ["dtypes", "views", "params", "trainer", "legacy_views", "legacy_trainer"]
      ) {
        const got = flatten(await loadPt(`${dir}/${name}.pt`));
        assertEquals(got, expected[name], name);
      }
      assert(Object.keys(expected).length === 6);
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

Deno.test({
  name: "a trainer checkpoint written here resumes a torch model and AdamW",
  ignore,
  fn: async () => {
    const [dir, cleanup] = await tempDir();
    try {
      const model = new PyDict();
      model.ordered = true;
      model.set("weight", float32Tensor([2, 3], [0.1, 0.2, 0.3, -0.1, -0.2, -0.3]));
      model.set("bias", float32Tensor([2], [0.5, -0.5]));
      const adam = (shape: number[], v: number) => {
        const s = new PyDict();
        s.set("step", float32Tensor([], [3])); // torch >= 1.12 keeps step as a tensor
        s.set("exp_avg", float32Tensor(shape, new Array(shape[0] * (shape[1] ?? 1)).fill(v)));
        s.set("exp_avg_sq", float32Tensor(shape, new Array(shape[0] * (shape[1] ?? 1)).fill(v)));
        return s;
      };
      const group = new PyDict();
      for (
        const [k, v] of Object.entries({
          lr: new PyFloat(1),
          betas: PyTuple.of(0.9, 0.999),
          eps: 1e-8,
          weight_decay: 0.1,
          amsgrad: false,
          maximize: false,
          foreach: null,
          capturable: false,
          params: [0, 1],
        })
      ) group.set(k, v as never);
      const checkpoint = {
        model,
        optimizer: {
          state: new Map([[0, adam([2, 3], 0.01)], [1, adam([2], 0.02)]]),
          param_groups: [group],
        },
        epoch: 2,
        loss: {},
        steps: { train: 10, val: 0 },
        time_elapsed: new PyFloat(5),
        best_meter_values: {},
      };
      await savePt(`${dir}/checkpoint.pt`, checkpoint);
      const r = await torchCheck("resume-adamw", `${dir}/checkpoint.pt`);
      assertEquals(r.code, 0, r.out);
      const got = JSON.parse(r.out.trim().split("\n").at(-1)!);
      assertEquals(got.epoch, 2);
      assertEquals(got.steps, { train: 10, val: 0 });
      assertEquals(got.time_elapsed, 5);
      assertEquals(got.lr, 1);
      assertEquals(got.betas_type, "tuple");
      assertEquals(got.step_after, 4, "AdamW continued from step 3");
      assertEquals(got.weight_finite, true);
    } finally {
      await cleanup();
    }
  },
});
