/**
 * The `sam2` command line: one program, one sub-command per file in `./commands/`.
 * This folder is the only place that reads `Deno.args` or calls `Deno.exit`.
 *
 * @example
 * ```sh
 * deno task run pipelines/demo.yaml
 * deno task extract videos/ --out frames/
 * ```
 */
import { Command, CommanderError } from "commander";
import { register as registerPipeline } from "./commands/pipeline.ts";
import { register as registerExtract } from "./commands/extract.ts";
import { register as registerTrain } from "./commands/train.ts";
import { register as registerEval } from "./commands/eval.ts";
import { register as registerConvert } from "./commands/convert.ts";
import { register as registerParity } from "./commands/parity.ts";

/** Lets in-flight GPU work finish before the process exits (only if a command used the GPU). */
async function settle(): Promise<void> {
  const { settleGpu } = await import("../gpu/runtime.ts");
  await settleGpu();
}

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

if (import.meta.main) {
  try {
    await buildProgram().parseAsync(Deno.args, { from: "user" });
    await settle();
  } catch (e) {
    await settle().catch(() => {});
    if (e instanceof CommanderError) Deno.exit(e.exitCode);
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
