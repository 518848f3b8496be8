import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";
import { sbatchScript } from "../../../src/data/extract/mod.ts";
import { join } from "node:path";
import { makeColourClip, names, tempDir } from "./_clips.ts";
import { runSam2 } from "../../cli/_sam2.ts";

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const r = await runSam2(["extract", ...args], { env: { CI: "true", ...env } });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

Deno.test("sam2 extract --slurm --dry-run prints the sbatch array script and writes nothing", async () => {
  const tmp = await tempDir();
  try {
    const out = join(tmp, "frames");
    const r = await cli([
      join(tmp, "videos"),
      "--out",
      out,
      "--slurm",
      "--dry-run",
      "--slurm-tasks",
      "16",
      "--timeout",
      "90",
      "--cpus",
      "8",
      "--partition",
      "cpu",
      "--account",
      "proj",
      "--qos",
      "low",
      "--array-parallelism",
      "4",
      "--sample-rate",
      "2",
    ]);
    assertEquals(r.code, 0, r.err);
    for (
      const line of [
        "#!/bin/bash",
        "#SBATCH --array=0-15%4",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --time=1:30:00",
        "#SBATCH --partition=cpu",
        "#SBATCH --account=proj",
        "#SBATCH --qos=low",
        `#SBATCH --output=${out}/.slurm/%A_%a.out`,
        `--shard "\${SLURM_ARRAY_TASK_ID}/16"`,
      ]
    ) assertStringIncludes(r.out, line);
    assertStringIncludes(r.out, `extract ${join(tmp, "videos")} --out ${out} --sample-rate 2`);
    assertEquals(await names(tmp), [], "dry run writes nothing");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("sam2 extract ends non-zero with a summary when a video is corrupt, and rejects unknown options", async () => {
  const tmp = await tempDir();
  try {
    await Deno.mkdir(join(tmp, "videos", "sav_000"), { recursive: true });
    await makeColourClip(join(tmp, "videos", "sav_000", "good.mp4"), { frames: 8 });
    await Deno.writeTextFile(join(tmp, "videos", "sav_000", "bad.mp4"), "not a video");
    const out = join(tmp, "frames");
    const r = await cli([join(tmp, "videos"), "--out", out, "--jobs", "2"]);
    assertEquals(r.code, 1);
    assertStringIncludes(
      r.out,
      "Extracted 1, skipped 0 (already complete), failed 1 of 2 video(s)",
    );
    assertStringIncludes(r.err, "bad.mp4: ");
    assertStringIncludes(r.err, "Invalid data found when processing input");
    assertEquals(await names(join(out, "good")), [".extract.json", "00000.jpg", "00004.jpg"]);
    const again = await cli(["--file-list", join(tmp, "list.txt"), "--out", out]).catch(() => null);
    assert(again !== null && again.code === 1, "a missing list file is an error");
    const bad = await cli([join(tmp, "videos"), "--out", out, "--frobnicate"]);
    assertEquals(bad.code, 1);
    assertStringIncludes(bad.err, "unknown option '--frobnicate'");
    const q = await cli([join(tmp, "videos"), "--out", out, "--quality", "0"]);
    assertStringIncludes(q.err, "JPEG quality must be an integer from 1 to 100");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("sbatchScript() quotes the command and rejects a zero task count", () => {
  const text = sbatchScript({
    tasks: 2,
    command: ["deno", "run", "/my repo/main.ts", "it's"],
    logDir: "/logs",
    workDir: "/my repo",
  });
  assertStringIncludes(text, `exec deno run '/my repo/main.ts' 'it'\\''s' \\`);
  assertStringIncludes(text, "cd '/my repo'");
  assertStringIncludes(text, "#SBATCH --array=0-1%2");
  assertStringIncludes(text, "#SBATCH --cpus-per-task=4");
  let threw = false;
  try {
    sbatchScript({ tasks: 0, command: ["x"], logDir: "/l", workDir: "/" });
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw, "tasks: 0 is a RangeError");
});

Deno.test("sam2 extract --slurm writes the script and submits it with sbatch", async () => {
  const tmp = await tempDir();
  try {
    const bin = join(tmp, "bin");
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      join(bin, "sbatch"),
      `#!/bin/sh\necho "$@" > '${join(tmp, "sbatch-args")}'\necho "Submitted batch job 4242"\n`,
      { mode: 0o755 },
    );
    const out = join(tmp, "frames");
    const r = await cli([join(tmp, "videos"), "--out", out, "--slurm", "--slurm-tasks", "3"], {
      PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`,
    });
    assertEquals(r.code, 0, r.err);
    assertStringIncludes(r.out, "Submitted batch job 4242");
    const script = join(out, ".slurm", "extract.sbatch");
    assertEquals((await Deno.readTextFile(join(tmp, "sbatch-args"))).trim(), script);
    assertStringIncludes(await Deno.readTextFile(script), "#SBATCH --array=0-2%3");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
