/**
 * Training logs, written by rank 0 only (as the reference's `setup_logging` and tensorboard
 * writer): one JSON object per logged step in `train_steps.jsonl`, one per epoch in
 * `train_stats.json` and `best_stats.json` (the reference's files), and a readable line per
 * logged step to the console and `log.txt`.
 */
import { join } from "node:path";

/** One logged optimizer step. */
export interface StepRecord {
  /** Optimizer steps done before this one (the reference's `steps["train"]`). */
  step: number;
  epoch: number;
  /** Batch index inside the epoch. */
  iter: number;
  /** Training progress in [0, 1) used by the schedules. */
  where: number;
  loss: number;
  /** Loss terms by name. */
  terms: Record<string, number>;
  /** Per param group: its lr and weight decay at this step. */
  groups: { lr: number; weight_decay: number }[];
  /** Global L2 norm of the gradients before clipping. */
  grad_norm: number;
  /** Seconds for this step (forward, backward, optimizer), and waiting for data. */
  step_time: number;
  data_time: number;
  /** Peak bytes held by GPU tensors since the previous logged step. */
  peak_gpu_bytes: number;
}

/** Options of {@link TrainLog}. */
export interface TrainLogOptions {
  /** Folder of the log files; none written when null. */
  dir: string | null;
  /** Only rank 0 writes. @default 0 */
  rank?: number;
  /** Where readable lines go. @default console.log */
  print?: (line: string) => void;
}

function fmt(x: number): string {
  if (x === 0 || !Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(4) : x.toExponential(3);
}

/** Readable form of a step record (one line). */
export function formatStep(r: StepRecord, itersPerEpoch: number): string {
  const terms = Object.entries(r.terms).map(([k, v]) => `${k} ${fmt(v)}`).join(" ");
  const distinct = [...new Set(r.groups.map((g) => g.lr))];
  const lrs = distinct.length <= 3
    ? distinct.map(fmt).join("/")
    : `${fmt(Math.min(...distinct))}..${fmt(Math.max(...distinct))}`;
  return `Train Epoch: [${r.epoch}][${r.iter}/${itersPerEpoch}] step ${r.step} | loss ${
    fmt(r.loss)
  }${terms ? ` (${terms})` : ""} | lr ${lrs} | grad norm ${fmt(r.grad_norm)} | step ${
    r.step_time.toFixed(2)
  }s data ${r.data_time.toFixed(2)}s | peak GPU ${(r.peak_gpu_bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Rank-0 log writer (appends; files are created on first use). */
export class TrainLog {
  readonly dir: string | null;
  readonly active: boolean;
  #print: (line: string) => void;
  #made = false;

  constructor(opts: TrainLogOptions) {
    this.active = (opts.rank ?? 0) === 0;
    this.dir = opts.dir;
    this.#print = opts.print ?? ((l) => console.log(l));
  }

  async #append(name: string, text: string): Promise<void> {
    if (!this.active || this.dir === null) return;
    if (!this.#made) {
      await Deno.mkdir(this.dir, { recursive: true });
      this.#made = true;
    }
    await Deno.writeTextFile(join(this.dir, name), text, { append: true });
  }

  /** A readable line (console and log.txt). */
  async info(line: string): Promise<void> {
    if (!this.active) return;
    this.#print(line);
    await this.#append("log.txt", `INFO ${new Date().toISOString()} ${line}\n`);
  }

  /** A logged step: JSON line plus its readable line. */
  async step(r: StepRecord, itersPerEpoch: number): Promise<void> {
    if (!this.active) return;
    await this.#append("train_steps.jsonl", JSON.stringify(r) + "\n");
    await this.info(formatStep(r, itersPerEpoch));
  }

  /** One JSON line to `file` (`train_stats.json`, `best_stats.json`). */
  async json(file: string, value: Record<string, unknown>): Promise<void> {
    await this.#append(file, JSON.stringify(value) + "\n");
  }
}
