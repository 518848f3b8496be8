/**
 * What the pipeline commands do, apart from how their arguments are declared: `run`'s action
 * and the helpers `status`, `dag`, `explain` and `cache` share. Nothing here loads commander
 * or the engine at import time, so `main.ts` can run a plain `run PIPELINE` (the no-op re-run
 * people type most) without loading either commander or Node's polyfills it needs.
 */
import { importLazily } from "../../pipeline/lazy_import.ts";

/** A module of the engine, loaded when a command runs (not at start-up: see importLazily). */
export function engine<M>(file: string): Promise<M> {
  return importLazily<M>(`../../pipeline/${file}`, import.meta.url);
}

/** `--var NAME=VALUE` values typed like YAML scalars (numbers, booleans, null, strings). */
export async function typedVars(
  raw: Record<string, string> | undefined,
): Promise<Record<string, unknown>> {
  const { parseVarValue } = await engine<typeof import("../../pipeline/spec.ts")>("spec.ts");
  return Object.fromEntries(Object.entries(raw ?? {}).map(([k, v]) => [k, parseVarValue(v)]));
}

/**
 * The built-in kinds plus third-party ones: each `--kinds MODULE` exports `kinds`, an array
 * of `StageKind`s (the same interface the built-in kinds implement).
 */
export async function registryFor(
  modules: string[] | undefined,
): Promise<import("../../pipeline/registry.ts").KindRegistry> {
  const { builtinRegistry } = await engine<typeof import("../../pipeline/builtin.ts")>(
    "builtin.ts",
  );
  const reg = builtinRegistry();
  for (const m of modules ?? []) {
    const url = /^[a-z]+:/.test(m) ? m : new URL(m, `file://${Deno.cwd()}/`).href;
    const mod = await import(url);
    if (!Array.isArray(mod.kinds)) {
      throw new Error(`--kinds ${m}: the module must export "kinds", an array of stage kinds`);
    }
    for (const k of mod.kinds) reg.register(k);
  }
  return reg;
}

/** Prints errors of the pipeline engine and exits (2, or 3 for a busy lock); rethrows others. */
export async function report(e: unknown): Promise<never> {
  const { SpecErrors, LockBusyError } = await engine<typeof import("../../pipeline/errors.ts")>(
    "errors.ts",
  );
  if (e instanceof SpecErrors) console.error(e.message);
  else if (e instanceof LockBusyError) console.error(`error: ${e.message}`);
  else throw e;
  Deno.exit(e instanceof LockBusyError ? 3 : 2);
}

/** Options of `run`, as commander hands them to the action. */
export interface RunCommandOptions {
  only?: string[];
  force?: string[] | boolean;
  dryRun?: boolean;
  jobs: number;
  var: Record<string, string>;
  store?: string;
  wait: boolean;
  json?: boolean;
  kinds?: string[];
}

/** What `run PIPELINE` gets when no option is given (the option declarations use these). */
export const RUN_DEFAULTS: Readonly<Pick<RunCommandOptions, "jobs" | "wait">> = {
  jobs: 2,
  wait: true,
};

/**
 * True for exactly `run PIPELINE` (no option, no help): `main.ts` then calls `runCommand`
 * with the defaults directly, as commander would.
 */
export function isPlainRun(args: readonly string[]): boolean {
  return args.length === 2 && args[0] === "run" && args[1] !== "" && !args[1].startsWith("-");
}

/** `run PIPELINE [options]`: runs it and prints the summary; exit code 1 when a stage failed. */
export async function runCommand(file: string, o: RunCommandOptions): Promise<void> {
  const { runPipeline } = await engine<typeof import("../../pipeline/runner.ts")>("runner.ts");
  const { formatSummary } = await engine<typeof import("../../pipeline/report.ts")>("report.ts");
  const { plainReporter, ttyReporter } = await importLazily<
    typeof import("../pipeline_progress.ts")
  >("../pipeline_progress.ts", import.meta.url);
  const tty = Deno.stderr.isTerminal() && Deno.env.get("CI") !== "true";
  const reporter = tty ? await ttyReporter() : plainReporter({ quiet: true });
  const ac = new AbortController();
  const onSig = () => {
    reporter.info("interrupted: stopping running stages");
    ac.abort(new Error("interrupted"));
  };
  Deno.addSignalListener("SIGINT", onSig);
  try {
    const summary = await runPipeline(file, {
      only: o.only,
      force: o.force,
      dryRun: o.dryRun,
      jobs: o.jobs,
      vars: await typedVars(o.var),
      registry: await registryFor(o.kinds),
      storeDir: o.store,
      wait: o.wait,
      reporter,
      signal: ac.signal,
    });
    if (o.json) console.log(JSON.stringify(summary, null, 2));
    else console.log(formatSummary(summary));
    if (!summary.ok) Deno.exitCode = 1;
  } catch (e) {
    await report(e);
  } finally {
    Deno.removeSignalListener("SIGINT", onSig);
  }
}
