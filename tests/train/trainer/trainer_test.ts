import {
  assert,
  assertAllClose,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../../assert.ts";
import { initGpu } from "../../../src/gpu/mod.ts";
import { tidy } from "../../../src/tensor/mod.ts";
import { isHostTensor, loadPt, type PyDict, toFloat32 } from "../../../src/checkpoint/mod.ts";
import {
  NonFiniteLossError,
  type StepRecord,
  Trainer,
  type TrainerOptions,
} from "../../../src/train/mod.ts";
import { flatParams, type TinyBatch, tinyData, tinyNet, tinyOptim, tinyTask } from "./_tiny.ts";

await initGpu();

const quiet = () => {};

function trainer(
  dir: string | null,
  o: Partial<TrainerOptions<TinyBatch>> & { model?: ReturnType<typeof tinyNet> } = {},
): Trainer<TinyBatch> {
  const model = o.model ?? tinyNet();
  return new Trainer<TinyBatch>({
    task: o.task ?? tinyTask(model),
    data: o.data ?? tinyData(),
    maxEpochs: o.maxEpochs ?? 2,
    optim: o.optim ?? tinyOptim(),
    checkpoint: o.checkpoint ?? { save_dir: dir === null ? null : `${dir}/checkpoints` },
    logDir: o.logDir ?? (dir === null ? null : `${dir}/logs`),
    logFreq: o.logFreq ?? 1,
    maxSteps: o.maxSteps,
    resume: o.resume,
    print: quiet,
  });
}

async function records(dir: string): Promise<StepRecord[]> {
  const text = await Deno.readTextFile(`${dir}/logs/train_steps.jsonl`);
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

async function globalGradNorm(
  params: { grad: { toArray(): Promise<ArrayLike<number>> } | null }[],
) {
  let s = 0;
  for (const p of params) {
    if (!p.grad) continue;
    for (const v of Array.from(await p.grad.toArray())) s += v * v;
  }
  return Math.sqrt(s);
}

Deno.test("Trainer.run() lowers the loss of a small regression model", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t = trainer(dir, { maxEpochs: 4, optim: tinyOptim({ constantLr: 0.02 }) });
    const r = await t.run();
    assertEquals(r.progress.steps.train, 16);
    assertEquals(r.progress.epoch, 4);
    const stats = (await Deno.readTextFile(`${dir}/logs/train_stats.json`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    assertEquals(stats.length, 4);
    const first = stats[0]["Losses/train_all_loss"], last = stats[3]["Losses/train_all_loss"];
    assert(last < 0.5 * first, `mean loss epoch 0 ${first} -> epoch 3 ${last}: expected < half`);
    assert("Losses/train_all_loss_mse" in stats[0], "terms averaged per epoch");
    const log = await Deno.readTextFile(`${dir}/logs/log.txt`);
    assertStringIncludes(log, "Train Epoch: [0][0/4] step 1 | loss");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Trainer sets lr and weight decay per group from the schedules at each step", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t = trainer(dir, { maxEpochs: 2, optim: tinyOptim({ lr0: 0.05, lr1: 0.005 }) });
    // wd 0.1 for the two weights; wd 0 for biases (param_names) and LayerNorm (module class).
    assertEquals(t.groups.map((g) => g.params), [
      ["fc1.weight", "fc2.weight"],
      ["fc1.bias", "norm.weight", "norm.bias", "fc2.bias"],
    ]);
    await t.run();
    const recs = await records(dir);
    assertEquals(recs.length, 8);
    for (const r of recs) {
      const where = (r.epoch + r.iter / 4) / 2;
      const lr = 0.005 + 0.5 * (0.05 - 0.005) * (1 + Math.cos(Math.PI * where));
      assertAllClose([r.where], [where], { atol: 1e-12, rtol: 0 });
      assertAllClose(r.groups.map((g) => g.lr), [lr, lr], {
        atol: 0,
        rtol: 1e-12,
        msg: `lr@${where}`,
      });
      assertEquals(r.groups.map((g) => g.weight_decay), [0.1, 0]);
    }
    // Step 5 is epoch 1, batch 0: where 0.5, lr halfway.
    assertAllClose([recs[4].groups[0].lr], [0.0275], { atol: 1e-12, rtol: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Trainer clips the global gradient norm to gradient_clip.max_norm", async () => {
  const clipped = tinyNet();
  const t1 = trainer(null, { model: clipped, maxEpochs: 1, optim: tinyOptim({ clip: 1e-3 }) });
  const lines: string[] = [];
  const t1p = new Trainer<TinyBatch>({ ...t1.opts, print: (l) => lines.push(l) });
  await t1p.run();
  const after = await globalGradNorm(clipped.parameters());
  const logged = Number(
    /grad norm ([0-9.e+-]+)/.exec(lines.filter((l) => l.includes("[0][3/4]"))[0])![1],
  );
  assert(logged > 1e-2, `pre-clip norm ${logged} should exceed max_norm by far`);
  assertAllClose([after], [1e-3 * logged / (logged + 1e-6)], { atol: 0, rtol: 1e-4 });

  const free = tinyNet();
  const lines2: string[] = [];
  const t2 = trainer(null, { model: free, maxEpochs: 1, optim: tinyOptim({ clip: null }) });
  await new Trainer<TinyBatch>({ ...t2.opts, print: (l) => lines2.push(l) }).run();
  const logged2 = Number(
    /grad norm ([0-9.e+-]+)/.exec(lines2.filter((l) => l.includes("[0][3/4]"))[0])![1],
  );
  // Without clipping the gradients keep their norm (the log prints 4 significant digits).
  assertAllClose([await globalGradNorm(free.parameters())], [logged2], { atol: 0, rtol: 1e-3 });
});

Deno.test("Trainer writes checkpoint.pt in the reference trainer's layout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = tinyNet();
    const t = trainer(dir, {
      model,
      maxEpochs: 2,
      checkpoint: { save_dir: `${dir}/checkpoints`, save_freq: 1 },
    });
    await t.run();
    const names = [...Deno.readDirSync(`${dir}/checkpoints`)].map((e) => e.name).sort();
    assertEquals(names, ["checkpoint.pt", "checkpoint_1.pt", "checkpoint_2.pt"]);
    const root = await loadPt(`${dir}/checkpoints/checkpoint.pt`) as PyDict;
    assertEquals([...root.keys()], [
      "model",
      "optimizer",
      "epoch",
      "epoch_iter",
      "loss",
      "steps",
      "time_elapsed",
      "best_meter_values",
    ]);
    assertEquals(root.get("epoch"), 2);
    assertEquals((root.get("steps") as PyDict).get("train"), 8);
    const sd = root.get("model") as PyDict;
    assertEquals([...sd.keys()], [...model.stateDict().keys()]);
    for (const [k, p] of model.namedParameters()) {
      const h = sd.get(k);
      assert(isHostTensor(h), k);
      assertEquals(h.shape, p.shape);
      assertAllClose(toFloat32(h), await p.toArray(), { atol: 0, rtol: 0, msg: k });
    }
    const opt = root.get("optimizer") as PyDict;
    const groups = opt.get("param_groups") as PyDict[];
    assertEquals(groups.map((g) => g.get("params")), [[0, 1], [2, 3, 4, 5]]);
    const state = opt.get("state") as PyDict;
    assertEquals([...state.keys()], [0, 1, 2, 3, 4, 5]);
    const s0 = state.get(0) as PyDict;
    assertEquals([...toFloat32(s0.get("step") as never)], [8]);
    assertEquals((s0.get("exp_avg") as { shape: number[] }).shape, [8, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint.pt loads in PyTorch: model, AdamW state and counters", async (t) => {
  const probe = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", "import torch"],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  if (!probe?.success) {
    console.warn("SKIPPED: /usr/bin/python3 has no torch; the torch.load check did not run");
    await t.step({ name: "torch.load (skipped: no torch)", ignore: true, fn: () => {} });
    return;
  }
  const dir = await Deno.makeTempDir();
  try {
    const model = tinyNet();
    await trainer(dir, { model, maxEpochs: 1 }).run();
    const script = `
import json, sys, torch
ck = torch.load(sys.argv[1], map_location="cpu")
shapes = [[4, 3], [8], [8], [8], [8], [8]]
params = [torch.nn.Parameter(torch.zeros(8, 3)), torch.nn.Parameter(torch.zeros(1, 8)),
          torch.nn.Parameter(torch.zeros(8)), torch.nn.Parameter(torch.zeros(8)),
          torch.nn.Parameter(torch.zeros(8)), torch.nn.Parameter(torch.zeros(1))]
opt = torch.optim.AdamW([{"params": params[:2]}, {"params": params[2:]}])
opt.load_state_dict(ck["optimizer"])
st = opt.state[params[0]]
print(json.dumps({
  "keys": list(ck.keys()), "epoch": ck["epoch"], "steps": ck["steps"],
  "model": {k: list(v.shape) for k, v in ck["model"].items()},
  "fc1_weight": ck["model"]["fc1.weight"].flatten().tolist(),
  "step": float(st["step"]), "exp_avg_shape": list(st["exp_avg"].shape),
  "lr": [g["lr"] for g in opt.param_groups], "wd": [g["weight_decay"] for g in opt.param_groups],
  "time_elapsed": type(ck["time_elapsed"]).__name__,
}))
`;
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", script, `${dir}/checkpoints/checkpoint.pt`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert(out.success, `python failed: ${err}`);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assertEquals(r.keys.slice(0, 3), ["model", "optimizer", "epoch"]);
    assertEquals(r.epoch, 1);
    assertEquals(r.steps, { train: 4, val: 0 });
    assertEquals(Object.keys(r.model), [...model.stateDict().keys()]);
    assertEquals(r.model["fc1.weight"], [8, 3]);
    assertAllClose(r.fc1_weight, await model.fc1.weight.toArray(), { atol: 0, rtol: 0 });
    assertEquals(r.step, 4);
    assertEquals(r.exp_avg_shape, [8, 3]);
    assertEquals(r.wd, [0.1, 0]);
    assertEquals(r.time_elapsed, "float");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Trainer resumed after 5 steps ends with the same parameters as one run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const whole = tinyNet();
    await trainer(null, { model: whole, maxEpochs: 3 }).run();
    const want = await flatParams(whole);

    const first = trainer(dir, { model: tinyNet(), maxEpochs: 3, maxSteps: 5 });
    const r1 = await first.run();
    assert(r1.stoppedAtMaxSteps);
    assertEquals(r1.progress.steps.train, 5);
    assertEquals(r1.progress.epoch, 1); // stopped in epoch 1, after its first batch

    // A fresh process: other initial weights, empty optimizer; everything comes from the file.
    const resumedModel = tinyNet(99);
    const data = tinyData();
    const second = trainer(dir, { model: resumedModel, data, maxEpochs: 3, resume: "require" });
    const r2 = await second.run();
    assert(r2.resumed && !r2.stoppedAtMaxSteps);
    assertEquals(r2.progress.steps.train, 12);
    assertEquals(data.served, 8); // epoch 1 (its first batch skipped) and epoch 2
    assertAllClose(await flatParams(resumedModel), want, { atol: 1e-6, rtol: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Trainer stops on a NaN loss naming the step and terms; the checkpoint is untouched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await trainer(dir, { maxEpochs: 1 }).run();
    const path = `${dir}/checkpoints/checkpoint.pt`;
    const before = await Deno.readFile(path);
    const model = tinyNet();
    const t = trainer(dir, {
      model,
      task: tinyTask(model, { nanFromCall: 2 }),
      maxEpochs: 3,
      resume: "auto",
    });
    const e = await assertRejects(() => t.run(), NonFiniteLossError);
    assertStringIncludes(e.message, "Loss is NaN at step 6 (epoch 1, batch 2)");
    assertStringIncludes(e.message, "loss_mse=NaN");
    assertStringIncludes(e.message, "loss_mae=");
    assertStringIncludes(e.message, `the last checkpoint "${path}" is untouched`);
    assertEquals((e as NonFiniteLossError).step, 6);
    assertEquals(await Deno.readFile(path), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Trainer.save() never leaves a half-written checkpoint.pt", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // ~0.5M parameters: the file is written in many pieces.
    const model = tinyNet(7, 512, 1024);
    const task = {
      model,
      moduleClasses: { TinyNet: "tests.TinyNet" },
      step: () => ({ loss: model.fc1.weight.mean().sub(0.5).square() }),
    };
    const t = trainer(dir, { model, task, maxEpochs: 1, data: tinyData(1) });
    await t.run();
    const path = `${dir}/checkpoints/checkpoint.pt`;
    const old = await Deno.readFile(path);
    // Change the weights so the next save differs, then watch the file while it is written.
    model.loadStateDict(
      new Map([["fc1.weight", {
        shape: [1024, 512],
        data: new Float32Array(512 * 1024).fill(0.25),
      }]]),
      { strict: false },
    );
    let done = false;
    const saving = t.save().finally(() => (done = true));
    let seen = 0;
    while (!done) {
      const now = await Deno.readFile(path);
      if (now.length !== old.length || now.some((v, i) => v !== old[i])) {
        const root = await loadPt(path) as PyDict; // a complete file or this throws
        assert(root.has("optimizer"));
      }
      seen++;
      await new Promise((r) => setTimeout(r, 0));
    }
    await saving;
    assert(seen > 0, "the file was observed during the save");
    const root = await loadPt(path) as PyDict;
    assertEquals(toFloat32((root.get("model") as PyDict).get("fc1.weight") as never)[0], 0.25);

    // A save that fails (a parameter was freed) leaves the previous file and no temporary files.
    const good = await Deno.readFile(path);
    model.fc2.bias!.dispose();
    await assertRejects(() => t.save());
    assertEquals(await Deno.readFile(path), good);
    const names = [...Deno.readDirSync(`${dir}/checkpoints`)].map((e) => e.name);
    assertEquals(names, ["checkpoint.pt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Trainer with resume 'refuse' will not overwrite an existing checkpoint.pt", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await trainer(dir, { maxEpochs: 1 }).run();
    const e = await assertRejects(() => trainer(dir, { resume: "refuse" }).run());
    assertStringIncludes(e.message, "already exists: resume it (--resume)");
    const e2 = await assertRejects(() => trainer(`${dir}/none`, { resume: "require" }).run());
    assertStringIncludes(e2.message, "Cannot resume: no checkpoint at");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Trainer runs an async TrainTask (freeing its own tensors) like a sync one", async () => {
  const syncModel = tinyNet();
  await trainer(null, { model: syncModel, maxEpochs: 1 }).run();
  const asyncModel = tinyNet();
  const inner = tinyTask(asyncModel);
  const task = {
    model: asyncModel,
    async: true,
    moduleClasses: inner.moduleClasses,
    async step(b: TinyBatch) {
      await Promise.resolve(); // e.g. a read back in the middle of the forward
      const kept = tidy(() => {
        const o = inner.step(b);
        return { loss: o.loss, terms: o.terms };
      });
      return kept;
    },
  };
  await trainer(null, { model: asyncModel, task, maxEpochs: 1 }).run();
  assertAllClose(await flatParams(asyncModel), await flatParams(syncModel), { atol: 0, rtol: 0 });

  const forgot = { ...task, async: false };
  const e = await assertRejects(() => trainer(null, { model: asyncModel, task: forgot }).run());
  assertStringIncludes(e.message, "TrainTask.step returned a Promise: set `async: true`");
});
