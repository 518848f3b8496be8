/**
 * The `sam2` command line: one program, one sub-command per file in `./commands/`
 * (registered in `./program.ts`). This folder is the only place that reads `Deno.args` or
 * calls `Deno.exit`.
 *
 * Start-up is kept to what the command needs: modules are imported when a command runs (see
 * `importLazily`), and a plain `run PIPELINE` — a no-op re-run is the command people repeat
 * most — goes straight to `run`'s action with its defaults, without loading commander (whose
 * Node polyfills cost about a third of a no-op run). Any other command line, `run` with an
 * option included, goes through commander.
 *
 * @example
 * ```sh
 * deno task run pipelines/demo.yaml
 * deno task extract videos/ --out frames/
 * ```
 */
import { importLazily } from "../pipeline/lazy_import.ts";
import { isPlainRun, RUN_DEFAULTS, runCommand } from "./commands/pipeline_run.ts";

/** Lets in-flight GPU work finish before the process exits (only if a command used the GPU). */
async function settle(): Promise<void> {
  const { settleGpu } = await importLazily<typeof import("../gpu/runtime.ts")>(
    "../gpu/runtime.ts",
    import.meta.url,
  );
  await settleGpu();
}

/** Runs the command line `args`; resolves to the exit code of a usage error or of `--help`. */
async function main(args: string[]): Promise<number | undefined> {
  if (isPlainRun(args)) {
    await runCommand(args[1], { ...RUN_DEFAULTS, var: {} });
    return undefined;
  }
  const { runProgram } = await importLazily<typeof import("./program.ts")>(
    "./program.ts",
    import.meta.url,
  );
  return await runProgram(args);
}

if (import.meta.main) {
  let code: number | undefined;
  try {
    code = await main(Deno.args);
  } catch (e) {
    await settle().catch(() => {});
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
  if (code !== undefined) {
    await settle().catch(() => {});
    Deno.exit(code);
  }
  try {
    await settle();
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
