/**
 * The sbatch array script for cluster extraction: one array task per shard, each running the
 * same `extract` command with `--shard $SLURM_ARRAY_TASK_ID/<n>`. The resources mirror the
 * reference's submitit options (timeout, CPUs per task, partition, account, QoS, array
 * parallelism; no GPUs).
 *
 * @module
 */

/** What goes into the sbatch script. */
export interface SlurmScriptOptions {
  /** Array tasks = shards. */
  tasks: number;
  /** The command each task runs, without `--shard` (argv, quoted for the shell here). */
  command: string[];
  /** Time limit per task in minutes. @default {60} */
  timeoutMin?: number;
  /** CPUs per task. @default {4} (the reference's value) */
  cpusPerTask?: number;
  /** Memory per task, sbatch syntax (`16G`); omitted when not given. */
  mem?: string;
  partition?: string;
  account?: string;
  qos?: string;
  /** Tasks running at once (`--array=0-N%P`). @default {tasks} (as the reference) */
  arrayParallelism?: number;
  /** Folder of the per-task logs `%A_%a.out/.err`. */
  logDir: string;
  /** Job name. @default {"sam2-extract"} */
  jobName?: string;
  /** Folder the tasks start in. */
  workDir: string;
}

/** Quotes `s` for a POSIX shell unless it is plainly safe. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The text of the sbatch array script.
 *
 * @example
 * ```ts
 * const text = sbatchScript({ tasks: 8, command: ["sam2", "extract", "v/", "--out", "f/"],
 *   logDir: "logs", workDir: "/repo" });
 * ```
 * @throws {RangeError} on a non-positive task count, CPU count, timeout or parallelism.
 */
export function sbatchScript(o: SlurmScriptOptions): string {
  const positive = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${name} must be a positive integer: got ${v}`);
    }
  };
  const timeout = o.timeoutMin ?? 60;
  const cpus = o.cpusPerTask ?? 4;
  const par = o.arrayParallelism ?? o.tasks;
  positive("Shard count (--slurm-tasks)", o.tasks);
  positive("Timeout (--timeout, minutes)", timeout);
  positive("CPUs per task (--cpus)", cpus);
  positive("Array parallelism (--array-parallelism)", par);
  const hhmm = `${Math.floor(timeout / 60)}:${String(timeout % 60).padStart(2, "0")}:00`;
  const lines = [
    "#!/bin/bash",
    `# SA-V frame extraction: ${o.tasks} array task(s), one shard each.`,
    "# Written by `sam2 extract --slurm`; each task runs the same command with its own shard.",
    `#SBATCH --job-name=${o.jobName ?? "sam2-extract"}`,
    `#SBATCH --array=0-${o.tasks - 1}%${Math.min(par, o.tasks)}`,
    "#SBATCH --nodes=1",
    "#SBATCH --ntasks=1",
    `#SBATCH --cpus-per-task=${cpus}`,
    `#SBATCH --time=${hhmm}`,
  ];
  if (o.mem) lines.push(`#SBATCH --mem=${o.mem}`);
  if (o.partition) lines.push(`#SBATCH --partition=${o.partition}`);
  if (o.account) lines.push(`#SBATCH --account=${o.account}`);
  if (o.qos) lines.push(`#SBATCH --qos=${o.qos}`);
  lines.push(
    `#SBATCH --output=${o.logDir}/%A_%a.out`,
    `#SBATCH --error=${o.logDir}/%A_%a.err`,
    "",
    "set -euo pipefail",
    `cd ${shellQuote(o.workDir)}`,
    `exec ${o.command.map(shellQuote).join(" ")} \\`,
    `  --shard "\${SLURM_ARRAY_TASK_ID}/${o.tasks}"`,
    "",
  );
  return lines.join("\n");
}
