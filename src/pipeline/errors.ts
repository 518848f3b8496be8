/**
 * Errors of the pipeline engine. Spec errors carry their position (file, line, column) and a
 * caret snippet, so a user sees exactly which character of which file is wrong.
 */

/** A position in a pipeline file: 1-based line and column, 0-based offset. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
  offset: number;
}

/** One problem in a pipeline file, at a position, with the offending line and a caret. */
export class SpecError extends SyntaxError {
  override name = "SpecError";
  constructor(
    readonly reason: string,
    readonly pos: SourcePosition,
    readonly snippet: string,
  ) {
    super(`${pos.file}:${pos.line}:${pos.col}: ${reason}${snippet ? "\n" + snippet : ""}`);
  }
}

/** All the problems of one pipeline file, reported together. */
export class SpecErrors extends AggregateError {
  override name = "SpecErrors";
  constructor(override readonly errors: SpecError[]) {
    super(
      errors,
      `${errors.length} error${errors.length === 1 ? "" : "s"} in ${errors[0]?.pos.file}:\n` +
        errors.map((e) => e.message).join("\n\n"),
    );
  }
}

/** Another run of the same pipeline holds its run lock (and `--no-wait` was given). */
export class LockBusyError extends Error {
  override name = "LockBusyError";
}

/** A stage failed while running; names the stage and why. */
export class StageError extends Error {
  override name = "StageError";
  constructor(readonly stage: string, message: string) {
    super(`Stage "${stage}" failed: ${message}`);
  }
}

/** A stage kind that cannot run yet (its domain code does not exist). */
export class KindUnavailableError extends Error {
  override name = "KindUnavailableError";
}
