/**
 * The `train` and `eval` kinds end to end on tiny data: one synthetic DAVIS-style video, one
 * training step of the mini model, prediction and J&F with the trained checkpoint.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../assert.ts";
import { generateSyntheticDataset } from "../../src/data/synthetic/mod.ts";
import { builtinRegistry, type RunSummary, SpecErrors } from "../../src/pipeline/mod.ts";
import { run, statuses, tempProject } from "./_helpers.ts";

const repo = (p: string) => decodeURIComponent(new URL(`../../${p}`, import.meta.url).pathname);
const TRAIN_CONFIG = repo("configs/demo/train_mini.yaml");
const MODEL_CONFIG = repo("configs/mini.yaml");
const WEIGHTS = decodeURIComponent(
  new URL("../../../shared/fixtures/sam2-mini/model.pt", import.meta.url).pathname,
);

function pipeline(initWeights: string): string {
  return `schema: 1
name: t
vars:
  bound_th: 0.008
stages:
  train:
    uses: train
    with:
      config: ${TRAIN_CONFIG}
      img_folder: data/davis/JPEGImages
      gt_folder: data/davis/Annotations
      init_checkpoint: ${initWeights}
      max_steps: 1
      # point/box prompts on every clip: a clip prompted by masks alone can have no gradient
      overrides: ["trainer.model.prob_to_use_pt_input_for_train=1.0"]
    outs:
      dir: out/train
  eval:
    uses: eval
    with:
      checkpoint: \${stages.train.outs.dir}/checkpoints/checkpoint.pt
      model_config: ${MODEL_CONFIG}
      video_dir: data/davis/JPEGImages
      gt_dir: data/davis/Annotations
      bound_th: \${vars.bound_th}
    outs:
      predictions: out/preds
      report: out/report
`;
}

async function project(initWeights = WEIGHTS): Promise<string> {
  const dir = await tempProject({ "pipeline.yaml": pipeline(initWeights) });
  await generateSyntheticDataset({
    out: `${dir}/data`,
    videos: 1,
    frames: 5,
    width: 64,
    height: 48,
    objects: [2, 2],
    formats: ["davis"],
  });
  return dir;
}

function failures(s: RunSummary): string {
  return s.results.filter((r) => r.status === "failed")
    .map((r) => `${r.stage}: ${r.reasons.join("; ")}`).join("\n");
}

Deno.test("train -> eval runs, is cached on the second run, and an eval parameter re-runs only eval", async () => {
  const dir = await project();
  const opts = { registry: builtinRegistry(), storeDir: `${dir}/.sam2` };
  try {
    const s1 = await run(dir, opts);
    assert(s1.ok, `first run failed:\n${failures(s1)}`);
    assertEquals(statuses(s1), { train: "ran", eval: "ran" });
    const ck = await Deno.stat(`${dir}/out/train/checkpoints/checkpoint.pt`);
    assert(ck.isFile && ck.size > 1_000_000, `checkpoint.pt is ${ck.size} bytes`);
    const steps = (await Deno.readTextFile(`${dir}/out/train/logs/train_steps.jsonl`)).trim()
      .split("\n").map((l) => JSON.parse(l) as { step: number; loss: number });
    assertEquals(steps.map((s) => s.step), [1]);
    assert(Number.isFinite(steps[0].loss), `loss ${steps[0].loss}`);
    const pngs = [...Deno.readDirSync(`${dir}/out/preds/syn_0000`)].map((e) => e.name).sort();
    assertEquals(pngs, ["00000.png", "00001.png", "00002.png", "00003.png", "00004.png"]);
    const jf = JSON.parse(await Deno.readTextFile(`${dir}/out/report/jf.json`));
    assertStringIncludes(JSON.stringify(jf), "syn_0000");
    const csv = await Deno.readTextFile(`${dir}/out/report/jf.csv`);
    assertStringIncludes(csv, "syn_0000,2,");

    const s2 = await run(dir, opts);
    assert(s2.ok, failures(s2));
    assertEquals(statuses(s2), { train: "up-to-date", eval: "up-to-date" });

    const s3 = await run(dir, { ...opts, vars: { bound_th: 0.02 } });
    assert(s3.ok, failures(s3));
    assertEquals(statuses(s3), { train: "up-to-date", eval: "ran" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train fails naming a missing init checkpoint", async () => {
  const dir = await project("/nonexistent/sam2-mini/model.pt");
  try {
    const e = await assertRejects(
      () => run(dir, { registry: builtinRegistry(), storeDir: `${dir}/.sam2` }),
      SpecErrors,
      `Input "/nonexistent/sam2-mini/model.pt" of stage "train" does not exist`,
    );
    assertStringIncludes(e.message, "pipeline.yaml:");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train fails with the config's file:line:col when it is not a trainer config", async () => {
  const dir = await tempProject({
    "pipeline.yaml":
      "stages:\n  t:\n    uses: train\n    with:\n      config: c.yaml\n    outs:\n      dir: out/t\n",
    "c.yaml": "x: 1\n",
  });
  try {
    const s = await run(dir, { registry: builtinRegistry(), storeDir: `${dir}/.sam2` });
    assertEquals(statuses(s), { t: "failed" });
    assertStringIncludes(s.results[0].reasons[0], "c.yaml:1:1");
    assertStringIncludes(s.results[0].reasons[0], 'No "trainer:" section');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
