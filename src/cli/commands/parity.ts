import type { Command } from "commander";

/** Registers the `parity` command(s); they are not built yet and say so. */
export function register(program: Command): void {
  program
    .command("parity")
    .description("parity (not available yet)")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new Error("'parity' is not available yet in this version");
    });
}
