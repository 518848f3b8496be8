/**
 * Writes a file through a temporary sibling and a rename, so a crash or an error never leaves a
 * half-written checkpoint under the final name.
 */

/** Options for {@link atomicWrite}. */
export interface AtomicWriteOptions {
  /** Replace an existing file. @default true */
  overwrite?: boolean;
}

/** Calls `write` with an open temporary file, then renames it to `path`. */
export async function atomicWrite(
  path: string,
  write: (file: Deno.FsFile) => Promise<void>,
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
    await write(file);
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

/** Writes all of `data` to `file`. */
export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) off += await file.write(data.subarray(off));
}
