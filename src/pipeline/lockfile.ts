/**
 * The lock file beside a pipeline (`pipelines/demo.lock`): human-readable JSON recording, per
 * stage, the components of its key and the hashes of its inputs and outputs, like DVC's
 * dvc.lock. It is rewritten atomically after each stage completes.
 */
import type { TreeSummary } from "./tree.ts";

/** The lock-file format version. */
export const LOCK_SCHEMA = "sam2-lock/1";

/** Everything a stage's key is made of. */
export interface KeyComponents {
  kind: string;
  /** Hash of the kind's source modules (their project-local import graph). */
  code?: string;
  /** Project files in that graph (relative path to hash). */
  codeFiles?: Record<string, string>;
  /** The shell command of a run stage. */
  cmd?: string;
  params: Record<string, unknown>;
  /** Input path to content hash (folders: Merkle hash). */
  deps: Record<string, string>;
  /** External tool name to version. */
  tools: Record<string, string>;
  env?: Record<string, string>;
  /**
   * Output name to workspace path, for kinds whose outputs depend on where they are placed
   * (`StageKind.placeDependent`).
   */
  outs?: Record<string, string>;
}

/** One stage's record. */
export interface LockStage {
  key: string;
  algo: string;
  kind: string;
  components: KeyComponents;
  outs: Record<string, { path: string } & TreeSummary>;
  at: string;
  durationMs?: number;
  /** How the outputs got there in the last run. */
  how: "ran" | "restored";
}

/** The whole lock file. */
export interface LockFile {
  schema: string;
  pipeline: string;
  stages: Record<string, LockStage>;
}

/** The lock file path of a pipeline file (`x.yaml` -> `x.lock`). */
export function lockPathFor(pipelineFile: string): string {
  return pipelineFile.replace(/\.ya?ml$/, "") + ".lock";
}

/** Reads a lock file (absent or unreadable: empty, with a warning for the latter). */
export async function readLockFile(
  path: string,
  pipeline: string,
  warn?: (m: string) => void,
): Promise<LockFile> {
  try {
    const j = JSON.parse(await Deno.readTextFile(path)) as LockFile;
    if (j.schema !== LOCK_SCHEMA || typeof j.stages !== "object" || j.stages === null) {
      warn?.(`Lock file ${path} has schema "${j.schema}", expected "${LOCK_SCHEMA}": ignoring it`);
      return { schema: LOCK_SCHEMA, pipeline, stages: {} };
    }
    return j;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      warn?.(`Lock file ${path} is unreadable (${(e as Error).message}): ignoring it`);
    }
    return { schema: LOCK_SCHEMA, pipeline, stages: {} };
  }
}

/** Writes a lock file atomically, stages sorted by name. */
export async function writeLockFile(path: string, lock: LockFile): Promise<void> {
  const stages: Record<string, LockStage> = {};
  for (const k of Object.keys(lock.stages).sort()) stages[k] = lock.stages[k];
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify({ ...lock, stages }, null, 2) + "\n");
  await Deno.rename(tmp, path);
}

/** JSON with object keys sorted recursively: one text per value. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${
    Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) =>
      `${JSON.stringify(k)}:${canonicalJson(o[k])}`
    ).join(",")
  }}`;
}
