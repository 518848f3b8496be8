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

Deno.test("train prints the plan, then says SAM2Train training is not available (exit 1)", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const r = await cli([
      "-c",
      "mini_trainer.yaml",
      "--override",
      `launcher.experiment_log_dir=${tmp}`,
    ]);
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(
      r.stdout,
      "model:   training.model.sam2.SAM2Train, 1.28M parameters",
      r.stderr,
    );
    assertStringIncludes(r.stdout, "8 batches per epoch");
    assertStringIncludes(r.stderr, "error: Training SAM 2 is not available in this version");
    assertEquals([...Deno.readDirSync(tmp)], [], "nothing written");
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
    assertStringIncludes(r.stdout, "not available in this version");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
