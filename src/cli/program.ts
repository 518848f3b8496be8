/**
 * The `sam2` program as commander sees it: one sub-command per file in `./commands/`. Loaded
 * by `main.ts` for every command line except a plain `run PIPELINE` (see `isPlainRun`).
 */
import { Command, CommanderError } from "commander";
import { register as registerPipeline } from "./commands/pipeline.ts";
import { register as registerExtract } from "./commands/extract.ts";
import { register as registerTrain } from "./commands/train.ts";
import { register as registerEval } from "./commands/eval.ts";
import { register as registerConvert } from "./commands/convert.ts";
import { register as registerParity } from "./commands/parity.ts";

/** The program with every command registered; errors throw (`exitOverride`). */
export function buildProgram(): Command {
  const program = new Command("sam2")
    .description("Train and fine-tune SAM 2 with declarative, cached pipelines on WebGPU")
    .showHelpAfterError()
    .exitOverride();
  for (
    const register of [
      registerPipeline,
      registerExtract,
      registerTrain,
      registerEval,
      registerConvert,
      registerParity,
    ]
  ) register(program);
  return program;
}

/**
 * Parses and runs `args`. Returns the exit code of a usage error or of `--help` (commander
 * has printed its message already), or undefined when the command ran.
 */
export async function runProgram(args: string[]): Promise<number | undefined> {
  try {
    await buildProgram().parseAsync(args, { from: "user" });
    return undefined;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
}
