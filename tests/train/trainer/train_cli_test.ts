import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";

const here = new URL(".", import.meta.url).pathname;
const root = new URL("../../../", import.meta.url).pathname;
const main = new URL("../../../src/cli/main.ts", import.meta.url).pathname;

async function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, "train", ...args],
    cwd: opts.cwd ?? here,
    // `deno task test` sets INIT_CWD for its children: say where this command "was typed".
    env: { XDG_RUNTIME_DIR: "/tmp", INIT_CWD: opts.cwd ?? here, ...(opts.env ?? {}) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("train --help lists the options", async () => {
  const r = await cli(["--help"]);
  assertEquals(r.code, 0, r.stderr);
  for (const o of ["--config", "--override", "--resume", "--max-steps", "--dry-run"]) {
    assertStringIncludes(r.stdout, o);
  }
});

Deno.test("train rejects an unknown option", async () => {
  const r = await cli(["-c", "mini_trainer.yaml", "--bogus"]);
  assert(r.code !== 0, "exit code");
  assertStringIncludes(r.stderr, "unknown option '--bogus'");
});

Deno.test("train names a missing config file", async () => {
  const r = await cli(["-c", "no_such_trainer.yaml"]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "no_such_trainer.yaml");
});

Deno.test("train names missing data paths before anything runs", async () => {
  const r = await cli([
    "-c",
    "mini_trainer.yaml",
    "--override",
    "dataset.img_folder=/no/such/JPEGImages",
    "--dry-run",
  ]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, 'img_folder: "/no/such/JPEGImages" does not exist');
});

Deno.test("train prints the plan and trains SAM2Train (mini) for 2 steps, writing a checkpoint", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const r = await cli([
      "-c",
      "mini_trainer.yaml",
      "--override",
      `launcher.experiment_log_dir=${tmp}`,
      "--max-steps",
      "2",
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "model:   SAM2Train (the given task's model), 1.28M parameters");
    assertStringIncludes(r.stdout, "8 batches per epoch");
    assertStringIncludes(r.stdout, "Stopped at epoch 0, step 2");
    const ckpt = await Deno.stat(`${tmp}/checkpoints/checkpoint.pt`);
    assert(ckpt.isFile && ckpt.size > 1_000_000, "checkpoint written");
    const steps = (await Deno.readTextFile(`${tmp}/logs/train_steps.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l) as { loss: number; terms: Record<string, number> });
    assert(steps.length >= 1, "a logged step");
    assert(Number.isFinite(steps[0].loss) && steps[0].loss > 0, `loss ${steps[0].loss}`);
    for (const k of ["loss_mask", "loss_dice", "loss_iou", "loss_class"]) {
      assert(Number.isFinite(steps[0].terms[k]), `term ${k}`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("train --dry-run resolves the config against INIT_CWD (deno task) and exits 0", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const r = await cli(
      ["-c", "mini_trainer.yaml", "--override", `launcher.experiment_log_dir=${tmp}`, "--dry-run"],
      { cwd: root, env: { INIT_CWD: here } },
    );
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, `config:  ${here}mini_trainer.yaml`);
    assertStringIncludes(r.stdout, "dry run: nothing trained");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
