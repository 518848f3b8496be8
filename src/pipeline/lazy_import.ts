/**
 * Imports a module only when the code that needs it runs, hidden from Deno's start-up walk.
 *
 * `deno run` builds the module graph of the main module before running it, and that walk
 * follows every `import("literal")` too, even one that never runs: a CLI whose commands
 * lazily import the trainer, the model and the tensor runtime with literal specifiers still
 * reads, hashes and resolves hundreds of modules (and npm packages) on every start, which
 * costs more than the no-op `run` it serves. A specifier computed at run time is not walked;
 * its graph is loaded when (and only if) the import runs. Type-checking stays exact: callers
 * name the module's type with `typeof import("...")`, which the run-time walk skips.
 *
 * npm packages count too: every literal `import("yaml")` on the way makes the walk resolve
 * the package, so a module that needs one only sometimes imports it this way as well.
 *
 * Stage kinds import their implementation this way and list it in `StageKind.modules`
 * instead (which is what the stage key's code hash follows).
 *
 * @example
 * ```ts
 * import { importLazily } from "./lazy_import.ts";
 * type Runner = typeof import("./runner.ts");
 * const { runPipeline } = await importLazily<Runner>("./runner.ts", import.meta.url);
 * ```
 */

/**
 * Imports `specifier`: a relative path is resolved against `base` (the caller's
 * `import.meta.url`); a bare name (`"yaml"`, `"node:buffer"`) goes through the import map.
 */
export function importLazily<M>(specifier: string, base: string): Promise<M> {
  const relative = specifier.startsWith("./") || specifier.startsWith("../");
  return import(relative ? new URL(specifier, base).href : specifier);
}
