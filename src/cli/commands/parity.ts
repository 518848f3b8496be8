/**
 * `sam2 parity`: our SAM 2 against the PyTorch reference's own numbers in the sam2-mini fixture:
 * the image encoder (every trunk block, neck level and PE), the SAM heads on three prompts, the
 * three recorded training steps (every output, loss term and gradient), and the state-dict key
 * lists of mini and the four released sizes. Prints each tensor's max error relative to the
 * reference's max |value| and exits 1 on any miss.
 *
 * @example
 * ```sh
 * deno task parity                      # everything
 * deno task parity --run train_step_box --no-keys
 * ```
 */
import type { Command } from "commander";
import { importLazily } from "../../pipeline/lazy_import.ts";
import process from "node:process";

const RUNS = ["train_step", "train_step_box", "train_step_mask"];
const SIZES: [string, string][] = [
  ["sam2.1_hiera_t", "configs/sam2.1/sam2.1_hiera_t.yaml"],
  ["sam2.1_hiera_s", "configs/sam2.1/sam2.1_hiera_s.yaml"],
  ["sam2.1_hiera_b+", "configs/sam2.1/sam2.1_hiera_b+.yaml"],
  ["sam2.1_hiera_l", "configs/sam2.1/sam2.1_hiera_l.yaml"],
];

/** Registers `parity`; the checks load only when it runs. */
export function register(program: Command): void {
  program
    .command("parity")
    .description("compare our SAM 2 with the PyTorch reference's numbers (sam2-mini fixture)")
    .option("--run <name...>", `training runs to replay (${RUNS.join(", ")})`)
    .option("--fixtures <dir>", "the sam2-mini fixture folder", "../shared/fixtures/sam2-mini")
    .option("--config <file>", "the mini model config", "configs/mini.yaml")
    .option("--no-grad", "skip the backward pass and gradient comparison")
    .option("--no-keys", "skip the key lists of the released sizes (building large takes a minute)")
    .option("--no-inference", "skip the image encoder and SAM heads comparisons")
    .action(async (o: {
      run?: string[];
      fixtures: string;
      config: string;
      grad: boolean;
      keys: boolean;
      inference: boolean;
    }) => {
      const p = await importLazily<typeof import("./parity_run.ts")>(
        "./parity_run.ts",
        import.meta.url,
      );
      const runs = o.run ?? RUNS;
      for (const r of runs) {
        if (!RUNS.includes(r)) {
          throw new Error(`parity: unknown run "${r}"; known: ${RUNS.join(", ")}`);
        }
      }
      let misses = 0;
      const report = (title: string, rows: Awaited<ReturnType<typeof p.trainStepParity>>) => {
        console.log(p.formatParityRows(title, rows));
        const bad = rows.filter((r) => !r.ok).length;
        misses += bad;
        const worst = Math.max(0, ...rows.filter((r) => !r.exactZero).map((r) => r.relErr));
        console.log(
          `${title}: ${rows.length - bad}/${rows.length} match; worst rel-to-max ${
            worst.toExponential(2)
          }`,
        );
      };
      const model = await p.loadMiniTrainModel(o.fixtures, o.config);
      if (o.inference) {
        report("image_encoder", await p.imageEncoderParity(model, o.fixtures));
        report("sam_heads", await p.samHeadsParity(model, o.fixtures));
      }
      for (const run of runs) {
        await p.loadMiniTrainModel(o.fixtures, o.config, model);
        const rows = await p.trainStepParity(run as typeof p.PARITY_RUNS[number], {
          fixtures: o.fixtures,
          config: o.config,
          model,
          gradients: o.grad,
        });
        report(run, rows);
      }
      const keyRows = [await p.keyListParity(o.fixtures, "mini", o.config)];
      if (o.keys) {
        for (const [name, cfg] of SIZES) keyRows.push(await p.keyListParity(o.fixtures, name, cfg));
      }
      for (const r of keyRows) console.log(`${r.ok ? "ok  " : "MISS"} ${r.name}: ${r.note}`);
      misses += keyRows.filter((r) => !r.ok).length;
      if (misses > 0) {
        console.error(`parity: ${misses} comparison(s) outside tolerance`);
        process.exitCode = 1;
      } else {
        console.log("parity: everything matches the reference within tolerance");
      }
    });
}
