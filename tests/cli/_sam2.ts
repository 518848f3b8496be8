/** Runs the `sam2` CLI (src/cli/main.ts) in a child Deno process, as users run it. */
const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;

/** Exit code and decoded output of one CLI run. */
export interface Sam2Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `deno run -A src/cli/main.ts ...args`, with an optional working folder and extra environment. */
export async function runSam2(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Sam2Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
