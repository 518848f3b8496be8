/**
 * The README's test command: runs `deno test` over `tests/` (or the paths given) and ends
 * with the plain summary line `N passed, N failed` that CI reads.
 *
 * @example
 * ```sh
 * deno task test                 # everything
 * deno task test tests/pipeline  # one folder
 * ```
 */
const paths = Deno.args.length > 0 ? Deno.args : ["tests/"];
Deno.env.set("XDG_RUNTIME_DIR", Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp");

const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--no-check=remote", ...paths],
  stdout: "piped",
  stderr: "inherit",
}).spawn();

// Stream Deno's output while keeping the tail, where its own summary line is.
let tail = "";
const decoder = new TextDecoder();
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
}
const { code } = await child.status;

// Deno ends with e.g. "ok | 12 passed (3 steps) | 0 failed (2s)".
// deno-lint-ignore no-control-regex
const plain = tail.replace(/\x1b\[[0-9;]*m/g, "");
const match = [...plain.matchAll(/(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/g)].at(-1);
const passed = match ? Number(match[1]) : 0;
let failed = match ? Number(match[2]) : 0;
if (code !== 0 && failed === 0) failed = 1; // a crash or type error before any test ran
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(code === 0 ? 0 : 1);
