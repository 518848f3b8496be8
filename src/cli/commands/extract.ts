import type { Command } from "commander";

/** Registers the `extract` command(s); they are not built yet and say so. */
export function register(program: Command): void {
  program
    .command("extract")
    .description("extract (not available yet)")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new Error("'extract' is not available yet in this version");
    });
}
