import type { Command } from "commander";

/** Registers the `convert` command(s); they are not built yet and say so. */
export function register(program: Command): void {
  program
    .command("convert")
    .description("convert (not available yet)")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new Error("'convert' is not available yet in this version");
    });
}
