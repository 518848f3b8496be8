/// <reference lib="deno.worker" />
/** Worker of `hashSmallFiles`: reads and hashes one chunk of paths per message. */
import { type FileHash, hashChunk, type SmallFileReader } from "./hash_pool.ts";

self.onmessage = async (
  e: MessageEvent<{ paths: string[]; sizes?: number[]; reader?: SmallFileReader }>,
) => {
  const { paths, sizes, reader } = e.data;
  try {
    const out = new Array<FileHash>(paths.length);
    await hashChunk(paths, 0, paths.length, out, { sizes, reader });
    self.postMessage({ hashes: out.map((r) => r.hash), sizes: out.map((r) => r.size) });
  } catch (err) {
    const error = err as Error;
    self.postMessage({ error: [error.name, error.message] });
  }
};
