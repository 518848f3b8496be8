/**
 * Reads a pipeline file. The located YAML tree of the last text seen is cached in the state
 * folder (`.sam2/spec/`): while the file is unchanged (same text), the YAML parser is not even
 * loaded, which keeps a no-op `run` fast.
 */
import type { SpecError } from "./errors.ts";
import { importLazily } from "./lazy_import.ts";
import type { LNode } from "./located.ts";
import { dirname, normalize } from "./paths.ts";
import { SourceText } from "./source.ts";
import { buildPipeline, findRoot, type ParseOptions, type Pipeline } from "./spec.ts";

const TREE_CACHE_VERSION = 1;

/** Reads and parses a pipeline file (see `parsePipeline`). */
export async function loadPipeline(
  file: string,
  opts: Omit<ParseOptions, "file">,
): Promise<Pipeline> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(
      e instanceof Deno.errors.NotFound
        ? `Cannot read pipeline "${file}": no such file`
        : `Cannot read pipeline "${file}": ${(e as Error).message}`,
    );
  }
  const abs = normalize(file.startsWith("/") ? file : `${Deno.cwd()}/${file}`);
  const root = opts.root ? normalize(opts.root) : findRoot(dirname(abs));
  const cachePath = `${root}/.sam2/spec/${abs.replace(/[^A-Za-z0-9_.-]+/g, "_")}.json`;
  const src = new SourceText(file, text);
  const errors: SpecError[] = [];
  let tree: LNode | null = null;
  let cached = false;
  try {
    const c = JSON.parse(await Deno.readTextFile(cachePath));
    if (c.version === TREE_CACHE_VERSION && c.text === text) {
      tree = c.tree;
      cached = true;
    }
  } catch { /* no cache */ }
  if (!cached) {
    const { parseLocated } = await importLazily<typeof import("./yaml_tree.ts")>(
      "./yaml_tree.ts",
      import.meta.url,
    );
    tree = parseLocated(src, errors);
    if (tree && errors.length === 0) {
      try {
        await Deno.mkdir(dirname(cachePath), { recursive: true });
        const tmp = `${cachePath}.${Deno.pid}.tmp`;
        await Deno.writeTextFile(tmp, JSON.stringify({ version: TREE_CACHE_VERSION, text, tree }));
        await Deno.rename(tmp, cachePath);
      } catch { /* a read-only project: parse every time */ }
    }
  }
  return buildPipeline(src, tree, errors, { ...opts, file });
}
