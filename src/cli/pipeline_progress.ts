/**
 * Live progress of a pipeline run: bars (npm `cli-progress`) with elapsed time for running
 * stages on a terminal; plain lines when stderr is not a TTY or `CI=true`.
 */
import { importLazily } from "../pipeline/lazy_import.ts";
import type { Reporter, StageResult } from "../pipeline/report.ts";

const enc = new TextEncoder();
const err = (s: string) => Deno.stderr.writeSync(enc.encode(s + "\n"));
const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;

function endLine(r: StageResult): string {
  const mark: Record<string, string> = {
    "ran": "ran      ",
    "restored": "restored ",
    "up-to-date": "cached   ",
    "failed": "FAILED   ",
    "skipped": "skipped  ",
    "frozen": "frozen   ",
    "would-run": "would run",
    "would-restore": "would restore",
  };
  const why = r.status === "up-to-date"
    ? ""
    : r.reasons.length
    ? `  (${r.reasons.join("; ")})`
    : "";
  return `${mark[r.status] ?? r.status} ${r.stage} ${
    r.status === "ran" || r.status === "restored" ? secs(r.durationMs) : ""
  }${why}`;
}

/** Plain lines: one when a stage starts and ends, progress at every 25%. */
export function plainReporter(opts: { quiet?: boolean } = {}): Reporter {
  const started = new Map<string, number>();
  const lastPct = new Map<string, number>();
  return {
    stageStart(stage, action) {
      started.set(stage, performance.now());
      err(`${action === "run" ? "running  " : "restoring"} ${stage}`);
    },
    stageProgress(stage, done, total) {
      if (total <= 0) return;
      const pct = Math.floor((done / total) * 4) * 25;
      if (pct > (lastPct.get(stage) ?? -1)) {
        lastPct.set(stage, pct);
        const el = performance.now() - (started.get(stage) ?? performance.now());
        err(`  ${stage} ${pct}% (${done}/${total}, ${secs(el)})`);
      }
    },
    stageLog() {},
    stageEnd(r) {
      if (opts.quiet && r.status === "up-to-date") return;
      err(endLine(r));
    },
    info(m) {
      err(m);
    },
    close() {},
  };
}

/** Bars for running stages (elapsed time, and progress for stages that report it). */
export async function ttyReporter(): Promise<Reporter> {
  const { default: cliProgress } = await importLazily<{ default: typeof import("cli-progress") }>(
    "cli-progress",
    import.meta.url,
  );
  // node:process (for its stderr stream) is loaded here only: plain output never needs it
  const { default: process } = await importLazily<{ default: typeof import("node:process") }>(
    "node:process",
    import.meta.url,
  );
  const multi = new cliProgress.MultiBar({
    format: " {bar} {stage} {prog} {elapsed}",
    barsize: 24,
    hideCursor: true,
    clearOnComplete: true,
    stopOnComplete: false,
    stream: process.stderr,
    forceRedraw: true,
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, { bar: ReturnType<typeof multi.create>; t0: number }>();
  const timer = setInterval(() => {
    for (const [stage, b] of bars) b.bar.update({ stage, elapsed: secs(performance.now() - b.t0) });
  }, 250);
  return {
    stageStart(stage, action) {
      const bar = multi.create(1, 0, {
        prog: "",
        stage: `${action === "run" ? "" : "(restore) "}${stage}`,
        elapsed: "0s",
      });
      bars.set(stage, { bar, t0: performance.now() });
    },
    stageProgress(stage, done, total) {
      const b = bars.get(stage);
      if (!b) return;
      b.bar.setTotal(Math.max(1, total));
      b.bar.update(done, { prog: `${done}/${total}` });
    },
    stageLog() {},
    stageEnd(r) {
      const b = bars.get(r.stage);
      if (b) {
        multi.remove(b.bar);
        bars.delete(r.stage);
      }
      if (r.status !== "up-to-date") multi.log(endLine(r) + "\n");
    },
    info(m) {
      multi.log(m + "\n");
    },
    close() {
      clearInterval(timer);
      multi.stop();
    },
  };
}
