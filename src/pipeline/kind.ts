/**
 * The one interface every stage kind implements, built-in or third-party. The engine knows a
 * kind only through this: it validates `with:` against `params`, hashes the source modules in
 * `modules` (and everything they import inside the project) into the stage key, records the
 * versions of `tools`, and calls `run` with a staging folder it then moves into place.
 *
 * @example
 * ```ts
 * import { s, type StageKind } from "./mod.ts";
 * const upper: StageKind<{ text: string }> = {
 *   name: "upper",
 *   description: "Writes the upper-cased text",
 *   params: s.object({ text: s.string() }),
 *   outputs: { out: "file" },
 *   modules: [import.meta.url],
 *   async run(ctx) {
 *     await Deno.writeTextFile(ctx.outputs.out, ctx.params.text.toUpperCase());
 *   },
 * };
 * ```
 */
import type { Schema } from "./schema.ts";

/** An external tool a kind runs; its version enters the stage key. */
export interface ToolDecl {
  /** Short name shown in `explain` (e.g. "ffmpeg"). */
  name: string;
  /**
   * Resolves the installed version (a string that changes when the tool changes).
   * @default the first line of `<name> -version`, remembered per binary
   */
  version?(): Promise<string>;
}

/** What a running stage receives from the engine. */
export interface StageContext<P> {
  /** The instance name, e.g. "frames@clip1". */
  stage: string;
  /** Resolved, validated parameters; input path parameters are absolute paths. */
  params: P;
  /** Absolute project root (relative paths in the pipeline are relative to it). */
  root: string;
  /** For each declared output name: the absolute staging path to write (file or folder). */
  outputs: Record<string, string>;
  /**
   * For each declared output name: the absolute workspace path it is moved to once the stage
   * succeeds. An output that refers to other files by relative path (a dataset manifest)
   * computes those paths from here, not from the staging path; see `placeDependent`.
   */
  destinations: Record<string, string>;
  /**
   * Content digests of the stage's input paths as hashed for its key (a Merkle hash for
   * folders), by absolute path. An output that describes inputs without holding their bytes (a
   * dataset manifest) records them, so that it changes whenever they do and the stages that
   * read it are not wrongly kept cached by early cutoff.
   */
  inputDigests: Record<string, string>;
  /** Aborted when the run is interrupted; stop promptly. */
  signal: AbortSignal;
  /** Reports progress, shown as a bar. */
  progress(done: number, total: number): void;
  /** Appends a line to the stage's log (kept with its outputs). */
  log(line: string): void;
}

/** A stage kind: what a `uses:` stage runs. */
export interface StageKind<P = unknown> {
  /** The name used in `uses:`. */
  name: string;
  /** One line for `--help`, the JSON Schema and `dag`. */
  description: string;
  /** Schema of `with:`; path parameters with role "input" are hashed by content. */
  params: Schema<P>;
  /** Outputs the kind writes, by name: `outs:` of the stage must name each one. */
  outputs: Record<string, "file" | "dir">;
  /** Module URLs that implement the kind; their project-local import graph is in the key. */
  modules: string[];
  /** External tools whose versions are in the key. */
  tools?: ToolDecl[];
  /**
   * The outputs' content depends on where they are placed (they hold paths relative to
   * `destinations`): the stage's `outs` paths then enter its key, so a cached result is
   * restored only to the place it was made for.
   * @default false
   */
  placeDependent?: boolean;
  /** Writes the outputs into `ctx.outputs` paths; throws to fail the stage. */
  run(ctx: StageContext<P>): Promise<void>;
}
