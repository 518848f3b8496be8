/**
 * `sam2 convert IN OUT`: converts checkpoints between PyTorch `.pt` and safetensors (the output
 * format is taken from OUT's extension, the input's from its content), optionally picking the
 * state dict inside a trainer checkpoint and casting float tensors.
 *
 * @example
 * ```sh
 * deno task convert sam2.1_hiera_tiny.pt tiny.safetensors
 * deno task convert checkpoint.pt model_bf16.safetensors --key model --dtype bf16
 * deno task convert tiny.safetensors tiny.pt          # saved as {"model": state_dict}
 * ```
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { importLazily } from "../../pipeline/lazy_import.ts";
import process from "node:process";
import { resolve } from "node:path";
import type { HostDType } from "../../checkpoint/mod.ts";

const DTYPES: Record<string, HostDType> = {
  f32: "float32",
  float32: "float32",
  f16: "float16",
  float16: "float16",
  bf16: "bfloat16",
  bfloat16: "bfloat16",
};

const HELP_AFTER = `
Formats: OUT ending in .safetensors is written as safetensors; .pt/.pth/.ckpt/.bin as a
torch.save zip that torch.load (weights_only=True) and the reference's build_sam2 read.
The input's format is detected from its first bytes.

--key: a '/'-separated path into a .pt checkpoint (e.g. "model", or "optimizer/state").
  .pt -> safetensors: the state dict to write (default "model" when present).
  safetensors -> .pt: the key to save the tensors under (default "model", as released
  SAM 2 checkpoints; pass --key "" for a bare state dict).
  .pt -> .pt: keep only that subtree, under the same path.

--dtype: cast floating tensors (f32, f16, bf16; round to nearest even); integer and bool
tensors are kept as they are.

The output is written to a temporary file and renamed, so a failed conversion leaves
nothing behind; an existing OUT is kept unless --force.`;

function dtypeArg(v: string): HostDType {
  const d = DTYPES[v.toLowerCase()];
  if (!d) throw new InvalidArgumentError("Use f32, f16 or bf16.");
  return d;
}

/** Registers `convert`. */
export function register(program: Command): void {
  program
    .command("convert")
    .description("convert a checkpoint between .pt and safetensors, or between float dtypes")
    .argument("<input>", "checkpoint to read (.pt zip or safetensors)")
    .argument("<output>", "file to write; its extension picks the format")
    .option("--key <path>", "path into a .pt checkpoint, '/'-separated (e.g. model)")
    .addOption(
      new Option("--dtype <dtype>", "cast float tensors: f32, f16 or bf16").argParser(dtypeArg),
    )
    .option("--force", "replace OUT if it exists", false)
    .option("--quiet", "no progress bar", false)
    .addHelpText("after", HELP_AFTER)
    .action(async (input: string, output: string, opts: {
      key?: string;
      dtype?: HostDType;
      force: boolean;
      quiet: boolean;
    }) => {
      // Loaded when the command runs, so other commands start fast.
      const { default: cliProgress } = await import("cli-progress");
      const { convertCheckpoint } = await importLazily<typeof import("../../checkpoint/mod.ts")>(
        "../../checkpoint/mod.ts",
        import.meta.url,
      );
      const started = performance.now();
      const showBar = !opts.quiet && process.stderr.isTTY === true;
      const bar = showBar
        ? new cliProgress.SingleBar({
          format: "converting [{bar}] {value}/{total} tensors | {mb} MB",
          stream: process.stderr,
          clearOnComplete: true,
        }, cliProgress.Presets.shades_classic)
        : undefined;
      let started_ = false;
      // `deno task` runs in the project folder; INIT_CWD is where the user typed the command.
      const base = Deno.env.get("INIT_CWD") ?? Deno.cwd();
      input = resolve(base, input);
      output = resolve(base, output);
      const key = opts.key === undefined ? undefined : opts.key.split("/").filter((s) => s);
      try {
        const s = await convertCheckpoint(input, output, {
          key,
          dtype: opts.dtype,
          force: opts.force,
          onProgress: (done, total, bytes) => {
            if (!bar) return;
            if (!started_) {
              bar.start(total, 0, { mb: "0" });
              started_ = true;
            }
            bar.update(done, { mb: (bytes / 2 ** 20).toFixed(1) });
          },
        });
        bar?.stop();
        const dtypes = Object.entries(s.dtypes).map(([d, n]) => `${n} ${d}`).join(", ");
        const secs = ((performance.now() - started) / 1000).toFixed(1);
        console.log(
          `Converted ${input} (${s.inputFormat}) -> ${output} (${s.outputFormat})` +
            (s.key.length ? ` [key ${s.key.join("/")}]` : "") +
            `: ${s.tensors} tensors (${dtypes || "none"}), ` +
            `${(s.tensorBytes / 2 ** 20).toFixed(1)} MB of tensor data, ` +
            `${(s.fileBytes / 2 ** 20).toFixed(1)} MB file, in ${secs} s`,
        );
      } catch (e) {
        bar?.stop();
        throw e;
      }
    });
}
