/**
 * Hashing many small files: each is read whole and hashed in one call, on this thread and on
 * a few Workers at once when there are enough files and idle cores to pay for starting them.
 * Files are read through libc by FFI where permitted (`LibcFileReader`): open, read, close
 * as three V8 fast calls, ~11 us a 100-byte file here, of which ~5 us is the kernel's; reading
 * with Deno's ops costs ~1.5x that. Workers take chunks of paths from a shared queue, so a
 * slow core never holds the rest back.
 */
import { hashSmall } from "./hash.ts";
import { LibcFileReader } from "./_libc_read.ts";

/** One file's content hash (hex) and the number of bytes read. */
export interface FileHash {
  hash: string;
  size: number;
}

/** Files per message to a Worker (and per turn of this thread). */
const CHUNK = 128;
/**
 * Below this many files a Worker's start-up (~50 ms of CPU) costs more than it saves: at
 * ~11 us a file, a Worker halving 8192 files saves ~45 ms of this thread's time.
 */
export const POOL_MIN_FILES = 8192;
/** Workers beside this thread at most. */
const MAX_WORKERS = 7;

/** A libc reader no chunk is using (chunks run one at a time but may await the native hasher). */
let spareReader: LibcFileReader | null = null;
/** The same for reading with Deno's ops: its buffer (a fresh 64 KiB per chunk costs page faults). */
let spareBuffer: Uint8Array | null = null;

/** How small files are read: through libc by FFI where permitted, else with Deno's ops. */
export type SmallFileReader = "auto" | "ffi" | "deno";

/**
 * Reads and hashes `paths[from..to)` into `out`, synchronously but for loading the native
 * hasher the first time a file is larger than `JS_HASH_MAX`. Files are read into one buffer
 * reused across the chunk: through libc by FFI (`LibcFileReader`: three syscalls and three
 * fast calls a file, none of Deno's per-op overhead), or where FFI is not permitted with
 * Deno's sync ops (open, read to EOF, close). `sizes[i]`, when given, is the size a listing
 * saw, which saves the read that finds EOF.
 */
export async function hashChunk(
  paths: readonly string[],
  from: number,
  to: number,
  out: FileHash[],
  opts: { sizes?: readonly number[]; reader?: SmallFileReader } = {},
): Promise<void> {
  // the reader (and its buffer) left by the last chunk on this thread, unless one is in use
  const libc = opts.reader === "deno" ? null : (spareReader ?? LibcFileReader.create());
  if (libc === spareReader) spareReader = null;
  if (opts.reader === "ffi" && !libc) {
    throw new Deno.errors.NotCapable("reading through libc needs --allow-ffi on Linux (glibc)");
  }
  if (libc) {
    try {
      const sizes = opts.sizes;
      for (let i = from; i < to; i++) {
        const n = libc.read(paths[i], sizes ? sizes[i] : -1);
        const h = hashSmall(libc.buffer.subarray(0, n));
        out[i] = { hash: typeof h === "string" ? h : await h, size: n };
      }
    } finally {
      libc.close();
      spareReader = libc;
    }
    return;
  }
  let buf = spareBuffer ?? new Uint8Array(64 << 10);
  spareBuffer = null;
  for (let i = from; i < to; i++) {
    let n = 0;
    {
      using f = Deno.openSync(paths[i]);
      for (;;) {
        if (n === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf);
          buf = bigger;
        }
        const r = f.readSync(buf.subarray(n));
        if (r === null || r === 0) break;
        n += r;
      }
    }
    const h = hashSmall(buf.subarray(0, n));
    out[i] = { hash: typeof h === "string" ? h : await h, size: n };
  }
  spareBuffer = buf;
}

/**
 * Workers worth starting beside this thread for `files` files: none for few files, else one
 * per idle hardware thread (load average below the core count), so a busy machine is not
 * handed threads that would only queue (each Worker also costs ~50 ms of CPU to start).
 */
export function defaultWorkers(files: number): number {
  if (files < POOL_MIN_FILES) return 0;
  const cores = navigator.hardwareConcurrency ?? 1;
  let load = 0;
  try {
    load = Deno.loadavg()[0];
  } catch { /* no --allow-sys: assume idle */ }
  return Math.max(0, Math.min(MAX_WORKERS, cores - 1, Math.floor(cores - load)));
}

/** Options of `hashSmallFiles`. */
export interface HashSmallFilesOptions {
  /** Workers to start beside this thread. @default defaultWorkers(paths.length) */
  workers?: number;
  /**
   * Each file's size as a listing saw it (same order as the paths): a file read to exactly
   * that size needs no further read to find its end. A file whose size changed is still
   * read whole.
   */
  sizes?: readonly number[];
  /** How files are read. @default "auto" (libc by FFI where permitted, else Deno) */
  reader?: SmallFileReader;
}

/**
 * The BLAKE3 hashes of files small enough to read whole, in the order given. A file that
 * cannot be read rejects the whole call with the error reading it gave (e.g. NotFound).
 */
export async function hashSmallFiles(
  paths: readonly string[],
  opts: HashSmallFilesOptions = {},
): Promise<FileHash[]> {
  const out = new Array<FileHash>(paths.length);
  if (paths.length === 0) return out;
  const workers = Math.max(
    0,
    Math.min(opts.workers ?? defaultWorkers(paths.length), Math.ceil(paths.length / CHUNK) - 1),
  );
  const chunkOpts = { sizes: opts.sizes, reader: opts.reader };
  if (workers === 0) {
    await hashChunk(paths, 0, paths.length, out, chunkOpts);
    return out;
  }
  let next = 0;
  let failed = false;
  const take = (): [number, number] | null => {
    if (failed || next >= paths.length) return null;
    const from = next;
    next = Math.min(paths.length, next + CHUNK);
    return [from, next];
  };
  const pool = Array.from(
    { length: workers },
    () => new Worker(new URL("./_hash_worker.ts", import.meta.url).href, { type: "module" }),
  );
  const workerLoop = async (w: Worker) => {
    for (let c = take(); c; c = take()) {
      const [from, to] = c;
      const reply = await new Promise<{ hashes: string[]; sizes: number[] }>((res, rej) => {
        w.onmessage = (e: MessageEvent) => {
          if (e.data.error) rej(rebuildError(e.data.error));
          else res(e.data);
        };
        w.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          rej(new Error(`hash worker failed: ${e.message}`));
        };
        w.postMessage({
          paths: paths.slice(from, to),
          sizes: opts.sizes?.slice(from, to),
          reader: opts.reader,
        });
      });
      for (let i = from; i < to; i++) {
        out[i] = { hash: reply.hashes[i - from], size: reply.sizes[i - from] };
      }
    }
  };
  const mainLoop = async () => {
    for (let c = take(); c; c = take()) {
      await hashChunk(paths, c[0], c[1], out, chunkOpts);
      await new Promise((r) => setTimeout(r, 0)); // lets the Workers' replies in
    }
  };
  try {
    await Promise.all([mainLoop(), ...pool.map(workerLoop)]);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    for (const w of pool) w.terminate();
  }
  return out;
}

/** The error a Worker reported, as the same `Deno.errors` class where there is one. */
function rebuildError([name, message]: [string, string]): Error {
  const cls = (Deno.errors as unknown as Record<string, ErrorConstructor | undefined>)[name];
  const e = cls ? new cls(message) : new Error(message);
  if (!cls) e.name = name;
  return e;
}
