import type { Command } from "commander";

/** Registers the `pipeline` command(s); they are not built yet and say so. */
export function register(program: Command): void {
  program
    .command("pipeline")
    .description("pipeline (not available yet)")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new Error("'pipeline' is not available yet in this version");
    });
}
