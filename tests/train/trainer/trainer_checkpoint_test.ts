import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../../assert.ts";
import { initGpu } from "../../../src/gpu/mod.ts";
import {
  loadPt,
  PyDict,
  savePt,
  selectStateDict,
  tensorsEqual,
} from "../../../src/checkpoint/mod.ts";
import { loadModelConfig, SAM2Base } from "../../../src/sam2/mod.ts";
import {
  AdamW,
  initializeModelWeights,
  type LoadStateDictIntoModelConfig,
  modelStateToHost,
  Trainer,
  trainerCheckpointTree,
} from "../../../src/train/mod.ts";
import { flatParams, type TinyBatch, tinyData, tinyNet, tinyOptim, tinyTask } from "./_tiny.ts";

await initGpu();

const MINI = new URL("../../../../shared/fixtures/sam2-mini/", import.meta.url);

function initializer(
  path: string,
  o: Partial<LoadStateDictIntoModelConfig> & { kernels?: unknown } = {},
): LoadStateDictIntoModelConfig {
  return {
    _target_: "training.utils.checkpoint_utils.load_state_dict_into_model",
    _partial_: true,
    strict: o.strict ?? true,
    ignore_missing_keys: o.ignore_missing_keys ?? null,
    ignore_unexpected_keys: null,
    checkpoint_kernels: null,
    state_dict: {
      _target_: "training.utils.checkpoint_utils.load_checkpoint_and_apply_kernels",
      checkpoint_path: path,
      checkpoint_kernels: o.kernels ?? null,
      ckpt_state_dict_keys: ["model"],
      map_location: "cpu",
    },
  };
}

Deno.test("initializeModelWeights() loads SAM2Base (mini) from model.pt; saving gives the same tensors", async () => {
  const cfg = await loadModelConfig(new URL("../../../configs/mini.yaml", import.meta.url));
  const model = new SAM2Base(cfg.model);
  const file = new URL("model.pt", MINI).pathname;
  const r = await initializeModelWeights(model, initializer("model.pt"), {
    cwd: MINI.pathname,
  });
  assertEquals(r.file, file);
  const want = selectStateDict(await loadPt(file, { path: ["model"] }));
  assertEquals(r.loaded, want.size);
  const saved = await modelStateToHost(model);
  assertEquals([...saved.keys()], [...want.keys()]);
  for (const [k, t] of want) {
    assert(tensorsEqual(saved.get(k)!, t), `${k} differs after a round trip`);
  }
  model.dispose();
});

Deno.test("initializeModelWeights() applies CkptExcludeKernel and checks missing keys", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const src = tinyNet(1);
    await savePt(`${dir}/init.pt`, { model: await modelStateToHost(src) });
    const kernels = [{
      _target_: "training.utils.checkpoint_utils.CkptExcludeKernel",
      key_pattern: ["fc2.*"],
    }];
    const strict = tinyNet(2);
    const e = await assertRejects(() =>
      initializeModelWeights(strict, initializer(`${dir}/init.pt`, { kernels }))
    );
    assertStringIncludes(e.message, "fc2.weight");
    const model = tinyNet(2);
    const before = await model.fc2.weight.toArray();
    const r = await initializeModelWeights(
      model,
      initializer(`${dir}/init.pt`, { kernels, ignore_missing_keys: ["fc2.*"] }),
    );
    assertEquals(r.loaded, 4);
    assertEquals([...await model.fc1.weight.toArray()], [...await src.fc1.weight.toArray()]);
    assertEquals([...await model.fc2.weight.toArray()], [...before]);
    const bad = [{ _target_: "training.utils.checkpoint_utils.CkptRenameKernel" }];
    const e2 = await assertRejects(() =>
      initializeModelWeights(tinyNet(), initializer(`${dir}/init.pt`, { kernels: bad }))
    );
    assertStringIncludes(e2.message, 'unknown checkpoint kernel "training.utils');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Trainer leaves skip_saving_parameters out of checkpoints and resumes without them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const make = (seed: number) => {
      const m = tinyNet(seed);
      return m;
    };
    const trained = make(3);
    const opts = (m: ReturnType<typeof tinyNet>) => ({
      task: tinyTask(m),
      data: tinyData(),
      maxEpochs: 2,
      optim: tinyOptim(),
      checkpoint: { save_dir: `${dir}/ck`, skip_saving_parameters: ["norm.*"] },
      logDir: null,
      print: () => {},
    });
    const e = await assertRejects(() => new Trainer<TinyBatch>(opts(trained)).run());
    assertStringIncludes(e.message, "matches parameters that are trained: norm.weight, norm.bias");
    trained.norm.requiresGrad(false);
    await new Trainer<TinyBatch>({ ...opts(trained), maxSteps: 4 }).run();
    const root = await loadPt(`${dir}/ck/checkpoint.pt`) as PyDict;
    assertEquals([...(root.get("model") as PyDict).keys()], [
      "fc1.weight",
      "fc1.bias",
      "fc2.weight",
      "fc2.bias",
    ]);
    // initialize_after_preemption defaults to true here: the frozen norm comes from the model.
    const again = make(3);
    again.norm.requiresGrad(false);
    const r = await new Trainer<TinyBatch>({ ...opts(again), resume: "require" }).run();
    assert(r.resumed);
    await new Trainer<TinyBatch>({ ...opts(trained), resume: "require" }).run();
    const a = await flatParams(again), b = await flatParams(trained);
    assertEquals([...a], [...b]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Trainer on rank 1 of 2 writes nothing and all-reduces gradients every step", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let calls = 0;
    const model = tinyNet();
    const r = await new Trainer<TinyBatch>({
      task: tinyTask(model),
      data: tinyData(),
      maxEpochs: 1,
      optim: tinyOptim(),
      checkpoint: { save_dir: `${dir}/ck` },
      logDir: `${dir}/logs`,
      rank: 1,
      worldSize: 2,
      allReduceGradients: (params) => {
        calls++;
        assertEquals(params.length, 6);
        assert(params.every((p) => p.grad !== null), "gradients exist when reduced");
      },
      print: () => {
        throw new Error("rank 1 printed");
      },
    }).run();
    assertEquals(calls, 4);
    assertEquals(r.checkpoint, null);
    assertEquals([...Deno.readDirSync(dir)], []);
    const e = assertThrows(() =>
      new Trainer<TinyBatch>({
        task: tinyTask(model),
        data: tinyData(),
        maxEpochs: 1,
        optim: null,
        checkpoint: { save_dir: null },
        logDir: null,
        worldSize: 2,
      })
    );
    assertStringIncludes(e.message, "needs a gradient all-reduce");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainerCheckpointTree() holds the optimizer's groups with torch's AdamW keys", async () => {
  const m = tinyNet();
  const opt = new AdamW([{ params: m.parameters(), lr: 0.5, weightDecay: 0.25 }]);
  const tree = await trainerCheckpointTree({
    model: m,
    optimizer: opt,
    progress: { epoch: 3, steps: { train: 7, val: 0 }, timeElapsed: 1.5, bestMeterValues: {} },
  });
  const g = ((tree.get("optimizer") as PyDict).get("param_groups") as PyDict[])[0];
  assertEquals([...g.keys()], [
    "lr",
    "betas",
    "eps",
    "weight_decay",
    "amsgrad",
    "foreach",
    "maximize",
    "capturable",
    "differentiable",
    "fused",
    "params",
  ]);
  assertEquals(g.get("params"), [0, 1, 2, 3, 4, 5]);
  assertEquals(((tree.get("optimizer") as PyDict).get("state") as PyDict).size, 0);
  assert(tree.get("loss") instanceof PyDict);
});

Deno.test("Trainer with checkpoint.resume_from continues that run in a new save_dir", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = (save: string, extra = {}) => ({
      task: tinyTask(tinyNet()),
      data: tinyData(),
      maxEpochs: 2,
      optim: tinyOptim(),
      logDir: null,
      print: () => {},
      checkpoint: { save_dir: save, ...extra },
    });
    await new Trainer<TinyBatch>({ ...base(`${dir}/a`), maxEpochs: 1 }).run();
    const r = await new Trainer<TinyBatch>({
      ...base(`${dir}/b`, { resume_from: `${dir}/a/checkpoint.pt` }),
      resume: "refuse",
    }).run();
    assert(r.resumed);
    assertEquals(r.progress.steps.train, 8);
    assertEquals([...Deno.readDirSync(`${dir}/b`)].map((e) => e.name), ["checkpoint.pt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
