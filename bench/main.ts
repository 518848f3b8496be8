/**
 * `deno task bench <name> [--json] [...]`: runs `bench/<name>.ts`, which prints its figures
 * as ratios against a baseline timed in the same run (and JSON with `--json`).
 */
const [name, ...rest] = Deno.args;
const known: string[] = [];
for (const e of Deno.readDirSync(new URL(".", import.meta.url))) {
  if (e.isFile && e.name.endsWith(".ts") && e.name !== "main.ts" && !e.name.startsWith("_")) {
    known.push(e.name.slice(0, -3));
  }
}
known.sort();
if (!name || name === "--help" || name === "-h" || !known.includes(name)) {
  if (name && name !== "--help" && name !== "-h") console.error(`Unknown benchmark "${name}"`);
  console.error(`Usage: deno task bench <name> [--json]\nBenchmarks: ${known.join(", ")}`);
  Deno.exit(name && name !== "--help" && name !== "-h" ? 2 : 0);
}
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL(`./${name}.ts`, import.meta.url).pathname, ...rest],
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
Deno.exit((await child.status).code);
