import { extname } from "node:path";
import { DatasetError } from "./types.ts";

/** Entries of a folder (names), sorted; a clear error when it is missing. */
export async function listDir(
  dir: string,
  filter: (e: Deno.DirEntry) => boolean = () => true,
): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (filter(e)) out.push(e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DatasetError(dir, "folder does not exist");
    if (e instanceof Deno.errors.NotADirectory) throw new DatasetError(dir, "is not a folder");
    throw e;
  }
  return out.sort();
}

/** Lines of a list file, each without extension (the reference's `splitext(line.strip())[0]`). */
export async function readNameList(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new DatasetError(path, `cannot read list file (${(e as Error).message})`);
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0).map((l) => {
    const ext = extname(l);
    return ext ? l.slice(0, -ext.length) : l;
  });
}

/** Frame index from a file name such as `00042.jpg` (the part before the first dot). */
export function frameIndexOf(name: string, where: string): number {
  const stem = name.split(".")[0];
  if (!/^\d+$/.test(stem)) {
    throw new DatasetError(where, `file "${name}" is not named by a frame number (00000.jpg)`);
  }
  return Number(stem);
}

/** Reads and parses a JSON file, naming it (and the position when possible) on failure. */
export async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DatasetError(path, "file does not exist");
    throw new DatasetError(path, `cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DatasetError(path, `invalid JSON: ${(e as Error).message}`);
  }
}
