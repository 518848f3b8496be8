/**
 * The project's one atomic file write: content goes to a temporary sibling file (same folder,
 * so the rename cannot cross file systems), is flushed to disk, then renamed over the final
 * name. A crash or an error never leaves a half-written file under that name, and the
 * temporary file is removed on error. Checkpoints, dataset manifests, evaluation reports and
 * predicted masks are all written through it.
 *
 * This folder sits below every other one (it imports nothing of the project), so the
 * checkpoint code can use it without importing from a layer above it.
 *
 * @module
 */

/** Options for {@linkcode atomicWrite}. */
export interface AtomicWriteOptions {
  /** Replace an existing file. @default true */
  overwrite?: boolean;
}

/** What {@linkcode atomicWrite} writes: text (UTF-8), bytes, or a function that streams. */
export type AtomicContent = string | Uint8Array | ((file: Deno.FsFile) => Promise<void>);

/**
 * Writes `content` to `path` through a temporary sibling file: write, fsync, rename. A
 * function is called with the open temporary file (for writers that stream, like the
 * checkpoint writers); the parent folder must exist.
 *
 * @example
 * ```ts
 * await atomicWrite("out/report.json", JSON.stringify(result));
 * await atomicWrite("model.pt", (file) => writeAll(file, bytes), { overwrite: false });
 * ```
 * @throws {Deno.errors.AlreadyExists} when `overwrite` is false and `path` exists.
 */
export async function atomicWrite(
  path: string,
  content: AtomicContent,
  options: AtomicWriteOptions = {},
): Promise<void> {
  if (options.overwrite === false) {
    try {
      await Deno.lstat(path);
      throw new Deno.errors.AlreadyExists(`Refusing to overwrite "${path}"`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const file = await Deno.open(tmp, { write: true, createNew: true });
  try {
    if (typeof content === "function") await content(file);
    else {
      await writeAll(
        file,
        typeof content === "string" ? new TextEncoder().encode(content) : content,
      );
    }
    await file.sync();
  } catch (e) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  file.close();
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Writes all of `data` to `file` (a single `write` may write less than asked). */
export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) off += await file.write(data.subarray(off));
}
