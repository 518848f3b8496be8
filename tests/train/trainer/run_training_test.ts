import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../assert.ts";
import { initGpu } from "../../../src/gpu/mod.ts";
import { loadPt, type PyDict } from "../../../src/checkpoint/mod.ts";
import {
  runTraining,
  TrainingDataError,
  TrainingUnavailableError,
} from "../../../src/train/mod.ts";
import { type TinyBatch, tinyData, tinyNet, tinyTask } from "./_tiny.ts";

await initGpu();

const here = new URL(".", import.meta.url).pathname;
const F = "fvcore.common.param_scheduler";

/** The mini trainer config, re-pointed at a temp folder, with optim options that fit TinyNet. */
function overrides(dir: string): string[] {
  return [
    `launcher.experiment_log_dir=${dir}`,
    "trainer.checkpoint.model_weight_initializer=null",
    "trainer.optim.param_group_modifiers=null",
    `trainer.optim.options.lr=[{scheduler: {_target_: ${F}.ConstantParamScheduler, value: 0.02}}]`,
    "trainer.logging.log_freq=2",
  ];
}

Deno.test("runTraining() trains a given task from a trainer config and saves checkpoint.pt", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    const report = await runTraining<TinyBatch>({
      config: "mini_trainer.yaml",
      cwd: here,
      overrides: overrides(dir),
      print: (l) => lines.push(l),
      createTask: (cfg, ctx) => {
        assertEquals(ctx.seed, (123 + 0) * cfg.trainer.max_epochs);
        return tinyTask(tinyNet());
      },
      createData: () => tinyData(),
    });
    const r = report.result!;
    assertEquals(r.progress.epoch, 2);
    assertEquals(r.progress.steps.train, 8);
    assertEquals(r.checkpoint, `${dir}/checkpoints/checkpoint.pt`);
    assertEquals(report.plan.parameterTensors, 6);
    // wd groups from the config: 0.1 by default, 0 for *bias* and torch.nn.LayerNorm.
    assertEquals(report.plan.groups.map((g) => g.samples[0]), [
      { lr: 0.02, weight_decay: 0.1 },
      { lr: 0.02, weight_decay: 0 },
    ]);
    assertEquals(report.plan.gradientClip, 0.1);
    const all = lines.join("\n");
    assertStringIncludes(
      all,
      "model:   TinyNet (the given task's model), 57 parameters in 6 tensors",
    );
    assertStringIncludes(all, "Train Epoch: [1][2/4] step 7");
    const root = await loadPt(r.checkpoint!) as PyDict;
    assertEquals(root.get("epoch"), 2);
    const steps = (await Deno.readTextFile(`${dir}/logs/train_steps.jsonl`)).trim().split("\n");
    assertEquals(steps.length, 4); // log_freq 2: batches 0 and 2 of both epochs

    // Again on the same folder: refused unless resumed; resumed, there is nothing left to do.
    const again = (resume: "refuse" | "require") =>
      runTraining<TinyBatch>({
        config: "mini_trainer.yaml",
        cwd: here,
        overrides: overrides(dir),
        resume,
        print: () => {},
        createTask: () => tinyTask(tinyNet(5)),
        createData: () => tinyData(),
      });
    const e = await assertRejects(() => again("refuse"), TrainingDataError);
    assertStringIncludes(e.message, 'checkpoint.pt" already exists: resume it (--resume)');
    const r2 = (await again("require")).result!;
    assert(r2.resumed);
    assertEquals(r2.progress.steps.train, 8);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runTraining() without a task validates, prints the plan and says training is unavailable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    const e = await assertRejects(
      () =>
        runTraining({
          config: "mini_trainer.yaml",
          cwd: here,
          overrides: [`launcher.experiment_log_dir=${dir}`],
          print: (l) => lines.push(l),
        }),
      TrainingUnavailableError,
    );
    assertStringIncludes(e.message, "SAM2Train task");
    assertStringIncludes(lines.join("\n"), "23 param groups");
    assertEquals([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runTraining() lists every missing input at once", async () => {
  const e = await assertRejects(
    () =>
      runTraining({
        config: "mini_trainer.yaml",
        cwd: here,
        overrides: [
          "dataset.img_folder=null",
          "dataset.gt_folder=no/such/Annotations",
          "trainer.checkpoint.model_weight_initializer.state_dict.checkpoint_path=gone.pt",
        ],
        print: () => {},
        dryRun: true,
      }),
    TrainingDataError,
  );
  const p = (e as TrainingDataError).problems;
  const e2 = await assertRejects(
    () =>
      runTraining({
        config: "mini_trainer.yaml",
        cwd: here,
        overrides: ["launcher.experiment_log_dir=/nonexistent/run"],
        resume: "require",
        print: () => {},
        dryRun: true,
      }),
    TrainingDataError,
  );
  assertStringIncludes(e2.message, "resume: there is no checkpoint at");
  assertEquals(p.length, 3, p.join("\n"));
  assert(p[0].includes(`"${here}gone.pt" does not exist`), p[0]);
  assertStringIncludes(p[1], "video_dataset.img_folder is not set");
  assertStringIncludes(p[2], `"${here}no/such/Annotations" does not exist`);
});
