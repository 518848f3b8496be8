/** Helpers for the pipeline tests: temp projects and quick runs. */
import {
  KindRegistry,
  type RunOptions,
  runPipeline,
  type RunSummary,
} from "../../src/pipeline/mod.ts";

/** A temp project folder (with `.sam2/` so it is its own root) holding `files`. */
export async function tempProject(files: Record<string, string> = {}): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sam2-pl-" });
  await Deno.mkdir(`${dir}/.sam2`);
  for (const [p, text] of Object.entries(files)) await write(dir, p, text);
  return dir;
}

/** Writes `text` at `dir/p`, creating folders. */
export async function write(dir: string, p: string, text: string): Promise<void> {
  const abs = `${dir}/${p}`;
  await Deno.mkdir(abs.slice(0, abs.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(abs, text);
}

/** Runs `dir/pipeline.yaml` with an empty registry unless one is given. */
export function run(
  dir: string,
  opts: RunOptions = {},
  file = "pipeline.yaml",
): Promise<RunSummary> {
  return runPipeline(`${dir}/${file}`, { registry: new KindRegistry(), root: dir, ...opts });
}

/** Stage name to status of a summary. */
export function statuses(s: RunSummary): Record<string, string> {
  return Object.fromEntries(s.results.map((r) => [r.stage, r.status]));
}

/** Sets a file's mtime back, so the stat cache trusts it (no racy-timestamp rehash). */
export async function age(path: string, seconds = 10): Promise<void> {
  const t = new Date(Date.now() - seconds * 1000);
  await Deno.utime(path, t, t);
}

/** Runs the CLI in a subprocess. */
export async function cli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    cwd: opts.cwd,
    env: { CI: "true", NO_COLOR: "1", ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
