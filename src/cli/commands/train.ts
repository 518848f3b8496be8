import type { Command } from "commander";

/** Registers the `train` command(s); they are not built yet and say so. */
export function register(program: Command): void {
  program
    .command("train")
    .description("train (not available yet)")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new Error("'train' is not available yet in this version");
    });
}
