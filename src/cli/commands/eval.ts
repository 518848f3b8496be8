import type { Command } from "commander";

/** Registers the `eval` command(s); they are not built yet and say so. */
export function register(program: Command): void {
  program
    .command("eval")
    .description("eval (not available yet)")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new Error("'eval' is not available yet in this version");
    });
}
