/**
 * Writers in this folder stream their output through a sink (a file when saving, memory in tests);
 * this gathers what one writes into a single buffer.
 *
 * @example
 * ```ts
 * const bytes = await collectBytes((sink) => sink(new Uint8Array([1, 2])).then(() => 2));
 * ```
 */

/** Where a writer sends its bytes, in order; a chunk may be reused after the promise settles. */
export type ByteSink = (chunk: Uint8Array) => Promise<void>;

/** Runs `write` into memory and returns everything it wrote (it returns the byte count). */
export async function collectBytes(
  write: (sink: ByteSink) => Promise<number>,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const total = await write((chunk) => {
    parts.push(chunk.slice());
    return Promise.resolve();
  });
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
