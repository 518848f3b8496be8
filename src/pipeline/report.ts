/** What the runner tells the user about, and the outcome of a run. */

/** What happened to one stage. */
export type StageStatus =
  | "up-to-date"
  | "restored"
  | "ran"
  | "failed"
  | "skipped"
  | "frozen"
  | "would-run"
  | "would-restore";

/** The outcome of one stage. */
export interface StageResult {
  stage: string;
  group: string;
  status: StageStatus;
  /** Why it ran, failed or was skipped. */
  reasons: string[];
  durationMs: number;
  key?: string;
  /** Set when the stage ran but was not cached (its inputs changed while it ran). */
  notCached?: string;
  /** Where its log is. */
  log?: string;
}

/** The outcome of a run. */
export interface RunSummary {
  pipeline: string;
  results: StageResult[];
  ok: boolean;
  elapsedMs: number;
}

/** Receives live events of a run (the CLI draws them; tests collect them). */
export interface Reporter {
  stageStart(stage: string, action: "run" | "restore"): void;
  stageProgress(stage: string, done: number, total: number): void;
  stageLog(stage: string, line: string): void;
  stageEnd(result: StageResult): void;
  info(message: string): void;
  /** Called once at the end (stop bars, etc). */
  close(): void;
}

/** A reporter that records nothing. */
export const silentReporter: Reporter = {
  stageStart() {},
  stageProgress() {},
  stageLog() {},
  stageEnd() {},
  info() {},
  close() {},
};

/** Counts of a summary, by status. */
export function countByStatus(s: RunSummary): Record<StageStatus, number> {
  const c: Record<string, number> = {};
  for (const r of s.results) c[r.status] = (c[r.status] ?? 0) + 1;
  return c as Record<StageStatus, number>;
}

/** The summary as text lines: counts, then failures with their reasons, then skips. */
export function formatSummary(s: RunSummary): string {
  const c = countByStatus(s);
  const parts = [
    `${c["ran"] ?? 0} ran`,
    `${c["restored"] ?? 0} restored from cache`,
    `${c["up-to-date"] ?? 0} up to date`,
    `${c["failed"] ?? 0} failed`,
    `${c["skipped"] ?? 0} skipped`,
  ];
  if (c["frozen"]) parts.push(`${c["frozen"]} frozen`);
  if (c["would-run"] || c["would-restore"]) {
    parts.push(`${c["would-run"] ?? 0} would run`, `${c["would-restore"] ?? 0} would restore`);
  }
  const lines = [`${s.pipeline}: ${parts.join(", ")} (${(s.elapsedMs / 1000).toFixed(2)}s)`];
  for (const r of s.results) {
    if (r.status === "failed") {
      lines.push(
        `  failed   ${r.stage}: ${r.reasons.join("; ")}${r.log ? ` (log: ${r.log})` : ""}`,
      );
    }
  }
  for (const r of s.results) {
    if (r.status === "skipped") lines.push(`  skipped  ${r.stage}: ${r.reasons.join("; ")}`);
  }
  for (const r of s.results) {
    if (r.notCached) lines.push(`  not cached ${r.stage}: ${r.notCached}`);
  }
  return lines.join("\n");
}
