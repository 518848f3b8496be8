/**
 * `sam2 train`: trains from a trainer config (the reference's `configs/sam2.1_training/*.yaml`
 * form), as the reference's `training/train.py -c <config>` on one process.
 *
 * @example
 * ```sh
 * deno task train --config configs/sam2.1_training/sam2.1_hiera_b+_MOSE_finetune.yaml \
 *   --override dataset.img_folder=data/MOSE/JPEGImages \
 *   --override dataset.gt_folder=data/MOSE/Annotations --dry-run
 * ```
 */
import { type Command, InvalidArgumentError } from "commander";
import { importLazily } from "../../pipeline/lazy_import.ts";

function positiveInt(v: string): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) < 1) {
    throw new InvalidArgumentError("must be a positive integer.");
  }
  return Number(v);
}

function resumeArg(v: string): "auto" {
  if (v !== "auto") throw new InvalidArgumentError(`use --resume or --resume auto, not "${v}".`);
  return v;
}

function collect(v: string, prev: string[]): string[] {
  if (!/^\+{0,2}[A-Za-z_][\w.]*=/.test(v)) {
    throw new InvalidArgumentError(`expected key=value (e.g. scratch.num_epochs=2), got "${v}".`);
  }
  return [...prev, v];
}

const HELP_AFTER = `
The config is a file path or a name as the reference takes it
(configs/sam2.1_training/sam2.1_hiera_b+_MOSE_finetune.yaml). Relative paths, on the command
line and inside the config, are taken from the folder you run the command in.

--override key=value changes the config before it is resolved, as Hydra's command line does
(values are YAML; +key=value adds a key, ++key=value adds or replaces). Repeat it:
  --override scratch.num_epochs=2 --override dataset.img_folder=/data/MOSE/JPEGImages

Outputs go under launcher.experiment_log_dir (default: ./sam2_logs/<config>):
checkpoints/checkpoint.pt (the reference trainer's layout: model, optimizer, epoch, steps, ...,
written atomically after every epoch), logs/log.txt, logs/train_steps.jsonl (one JSON object
per logged step), logs/train_stats.json (one per epoch).

An existing checkpoints/checkpoint.pt is never overwritten silently: pass --resume to continue
it (model, optimizer state, epoch and step counters are restored; a run stopped mid-epoch
continues at the next batch). --resume auto continues it when it exists and starts fresh
otherwise, as the reference trainer always does (for jobs that are requeued).
--max-steps N stops after N optimizer steps in total and writes checkpoint.pt there.
--dry-run checks the config and the data paths and prints the plan without training.`;

/** Registers `train`. */
export function register(program: Command): void {
  program
    .command("train")
    .description("train or fine-tune SAM 2 from a trainer config (reference YAML)")
    .requiredOption("-c, --config <file>", "trainer config (YAML)")
    .option("--override <key=value>", "change a config value (repeatable)", collect, [])
    .option(
      "--resume [auto]",
      "continue from <save_dir>/checkpoint.pt; 'auto': only if it exists (requeued jobs)",
      resumeArg,
    )
    .option("--max-steps <n>", "stop after n optimizer steps in total", positiveInt)
    .option("--dry-run", "validate and print the plan; do not train", false)
    .addHelpText("after", HELP_AFTER)
    .action(async (o: {
      config: string;
      override: string[];
      resume?: true | "auto";
      maxSteps?: number;
      dryRun: boolean;
    }) => {
      const { runTraining } = await importLazily<typeof import("../../train/trainer/mod.ts")>(
        "../../train/trainer/mod.ts",
        import.meta.url,
      );
      const { createSam2TrainTask } = await importLazily<
        typeof import("../../train/trainer/sam2_task.ts")
      >("../../train/trainer/sam2_task.ts", import.meta.url);
      // `deno task` runs in the project folder; INIT_CWD is where the user typed the command.
      const cwd = Deno.env.get("INIT_CWD") ?? Deno.cwd();
      const report = await runTraining({
        config: o.config,
        overrides: o.override,
        cwd,
        resume: o.resume === "auto" ? "auto" : o.resume ? "require" : "refuse",
        maxSteps: o.maxSteps,
        dryRun: o.dryRun,
        createTask: createSam2TrainTask,
      });
      const r = report.result;
      if (r) {
        console.log(
          `${r.stoppedAtMaxSteps ? "Stopped" : "Finished"} at epoch ${r.progress.epoch}, step ` +
            `${r.progress.steps.train}, last loss ${r.lastLoss}` +
            (r.checkpoint ? `; checkpoint ${r.checkpoint}` : ""),
        );
      }
    });
}
