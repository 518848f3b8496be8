/**
 * Hashes files and folders by content, remembering (device, inode, size, mtime, ctime) of
 * every file hashed, so an unchanged file is never read twice. A folder's hash is a Merkle
 * hash over its sorted entries (type, hash, name), so it changes exactly when a byte, a name
 * or the set of files under it changes; `touch` alone changes nothing.
 *
 * Racy stat entries: Deno reports mtime in milliseconds, and a file rewritten within the same
 * timestamp tick as it was hashed would look unchanged. An entry is trusted only when the
 * file's mtime is at least `RACY_MS` older than the moment it was hashed; else it is rehashed.
 */
import { dirname } from "./paths.ts";
import { HASH_ALGO, hashBytes, hashFile, mapLimit } from "./hash.ts";
import { hashSmallFiles, type SmallFileReader } from "./hash_pool.ts";

const SMALL = 1 << 20;

/** A stat entry is trusted only if the file was last modified this long before hashing. */
export const RACY_MS = 2000;

/** The content of a file or folder. */
export type TreeNode =
  | { type: "file"; hash: string; size: number }
  | { type: "dir"; hash: string; size: number; files: number; entries: Record<string, TreeNode> };

/** A tree without its folder listings (what lock files record). */
export interface TreeSummary {
  type: "file" | "dir";
  hash: string;
  size: number;
  files: number;
}

/** The summary of a tree. */
export function summarize(t: TreeNode): TreeSummary {
  return { type: t.type, hash: t.hash, size: t.size, files: t.type === "dir" ? t.files : 1 };
}

/** What is remembered of a hashed file. */
export interface KnownFile {
  sig: string;
  mtimeMs: number;
  hash: string;
  at: number;
}

interface FileEntry {
  /** device:inode:size:mtime:ctime, as the lister that saw it wrote them */
  sig: string;
  mtimeMs: number;
  hash: string;
  /** When hashing began (ms since epoch). */
  at: number;
}

/** One file or folder found under a folder being hashed. */
interface Listed {
  rel: string;
  dir: boolean;
  sig: string;
  mtimeMs: number;
  size: number;
}

const STAT_CACHE_VERSION = 3;

function denoSig(st: Deno.FileInfo): string {
  return `d:${st.dev}:${st.ino}:${st.size}:${st.mtime?.getTime() ?? -1}:${
    st.ctime?.getTime() ?? -1
  }`;
}

/** GNU find's listing of everything under `abs` (stats included), as bytes, or null. */
function findBytes(abs: string): Uint8Array | null {
  try {
    const out = new Deno.Command("find", {
      args: ["-L", abs, "-mindepth", "1", "-printf", "%y\\t%D\\t%i\\t%s\\t%T@\\t%C@\\t%P\\0"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.success ? out.stdout : null;
  } catch {
    return null;
  }
}

/** GNU find's listing as text, or null without find. */
function findRaw(abs: string): string | null {
  const b = findBytes(abs);
  return b === null ? null : new TextDecoder().decode(b);
}

/**
 * GNU find's listing of everything under `abs`, handed to `onText` in whole records as it
 * arrives (awaited before more is read), so the caller can work while find still lists.
 * Resolves to the whole listing's bytes, or null when find is missing or fails (whatever
 * was handed over must then be discarded). An error thrown by `onText` stops find.
 */
async function streamFind(
  abs: string,
  onText: (text: string) => Promise<void>,
): Promise<Uint8Array | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("find", {
      args: ["-L", abs, "-mindepth", "1", "-printf", "%y\\t%D\\t%i\\t%s\\t%T@\\t%C@\\t%P\\0"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch {
    return null;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const dec = new TextDecoder();
  let rest = "";
  try {
    for await (const chunk of child.stdout) {
      chunks.push(chunk);
      total += chunk.length;
      const text = rest + dec.decode(chunk, { stream: true });
      const cut = text.lastIndexOf("\0");
      rest = text.slice(cut + 1);
      if (cut >= 0) await onText(text.slice(0, cut + 1));
    }
    rest += dec.decode();
    if (rest) await onText(rest);
  } catch (e) {
    try {
      child.kill();
    } catch { /* already gone */ }
    await child.status;
    throw e;
  }
  if (!(await child.status).success) return null;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Byte equality of two listings, 4 bytes a step. This runs once per process on a cold JIT,
 * where 32-bit words are cheap and 64-bit ones are not (each BigUint64Array read allocates a
 * BigInt: ~20 ms for a 10,000-file listing).
 */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.byteOffset % 4) a = a.slice(); // a copy is aligned, and far cheaper than a byte loop
  if (b.byteOffset % 4) b = b.slice();
  const n4 = a.length >> 2;
  const x = new Int32Array(a.buffer, a.byteOffset, n4);
  const y = new Int32Array(b.buffer, b.byteOffset, n4);
  for (let i = 0; i < n4; i++) if (x[i] !== y[i]) return false;
  for (let i = n4 * 4; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function parseFind(text: string): Listed[] {
  const list: Listed[] = [];
  for (const rec of text.split("\0")) {
    if (rec.length < 3) continue;
    const type = rec[0];
    if (type !== "f" && type !== "d") continue; // sockets, fifos, dangling links: not content
    const t1 = rec.indexOf("\t", 2), t2 = rec.indexOf("\t", t1 + 1), t3 = rec.indexOf("\t", t2 + 1);
    const t4 = rec.indexOf("\t", t3 + 1), t5 = rec.indexOf("\t", t4 + 1);
    list.push({
      rel: rec.slice(t5 + 1),
      dir: type === "d",
      sig: rec.slice(0, t5),
      mtimeMs: Number(rec.slice(t3 + 1, t4)) * 1000,
      size: Number(rec.slice(t2 + 1, t3)),
    });
  }
  return list;
}

/**
 * Lists everything under `abs` with GNU find in one process (one `find` costs less than ten
 * thousand stat calls through the runtime, and gives nanosecond mtime and ctime); falls back
 * to walking with Deno when find is missing or fails.
 */
function listTree(abs: string, raw?: string | null): Listed[] {
  const text = raw === undefined ? findRaw(abs) : raw;
  if (text !== null) return parseFind(text);
  const list: Listed[] = [];
  const walk = (p: string, rel: string, depth: number) => {
    if (depth > 64) throw new Error(`"${p}" is nested too deeply (a symbolic link loop?)`);
    for (const e of Deno.readDirSync(p)) {
      const child = `${p}/${e.name}`;
      let cs: Deno.FileInfo;
      try {
        cs = e.isSymlink ? Deno.statSync(child) : Deno.lstatSync(child);
      } catch {
        continue; // dangling link
      }
      if (!cs.isFile && !cs.isDirectory) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      list.push({
        rel: r,
        dir: cs.isDirectory,
        sig: denoSig(cs),
        mtimeMs: cs.mtime?.getTime() ?? -1,
        size: cs.size,
      });
      if (cs.isDirectory) walk(child, r, depth + 1);
    }
  };
  walk(abs, "", 0);
  return list;
}

/** Content hashes of files keyed by their stat, persisted in the state folder. */
export class StatCache {
  readonly #files = new Map<string, FileEntry>();
  #dirty = false;
  /** Files actually read and hashed in this process (for reports and tests). */
  hashedFiles = 0;
  hashedBytes = 0;

  #loading: Promise<void> | null = null;

  private constructor(readonly path: string | null) {}

  /** An empty cache that is never saved. */
  static memory(): StatCache {
    return new StatCache(null);
  }

  /**
   * The cache at `path` (a missing or unreadable cache is an empty one). The per-file table
   * is read only when a file has to be looked up: a no-op run answered from summaries never
   * parses it.
   */
  static load(path: string): Promise<StatCache> {
    return Promise.resolve(new StatCache(path));
  }

  #ensure(): Promise<void> {
    this.#loading ??= (async () => {
      if (!this.path) return;
      try {
        const j = JSON.parse(await Deno.readTextFile(this.path));
        if (j.version === STAT_CACHE_VERSION && j.algo === HASH_ALGO) {
          for (const r of j.files as [string, string, number, string, number][]) {
            this.#files.set(r[0], { sig: r[1], mtimeMs: r[2], hash: r[3], at: r[4] });
          }
        }
      } catch { /* start empty */ }
    })();
    return this.#loading;
  }

  #memoPath(abs: string): string | null {
    if (!this.path) return null;
    let name = encodeURIComponent(abs);
    if (name.length > 200) {
      let h = 0x811c9dc5;
      for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
      name = `${(h >>> 0).toString(16)}-${name.slice(-180)}`;
    }
    return `${this.path.slice(0, this.path.lastIndexOf("/"))}/memo/${name}.memo`;
  }

  /**
   * The hash of a file or folder, answered without reading the per-file table when nothing
   * under it changed: the listing (names and stats, from one `find`) is compared with the one
   * recorded last time. Returns null when the path is missing.
   */
  async summaryOf(abs: string): Promise<TreeSummary | null> {
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(abs);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    const memoPath = this.#memoPath(abs);
    const at = Date.now();
    // The listing is compared as bytes with the one stored beside the memo (no decoding).
    const rawBytes = st.isDirectory ? findBytes(abs) : new TextEncoder().encode(denoSig(st));
    if (memoPath && rawBytes !== null) {
      try {
        // one file, renamed into place as a whole: a JSON line, then the listing's bytes
        const file = await Deno.readFile(memoPath);
        const nl = file.indexOf(10);
        const m = JSON.parse(new TextDecoder().decode(file.subarray(0, nl)));
        if (
          m.algo === HASH_ALGO && m.at - m.maxMtimeMs >= RACY_MS &&
          sameBytes(file.subarray(nl + 1), rawBytes)
        ) return m.summary;
      } catch { /* no memo */ }
    }
    const raw = rawBytes === null ? null : new TextDecoder().decode(rawBytes);
    // Folders keep their own per-file table beside the memo (read only now, on a change).
    let known: Map<string, KnownFile> | undefined;
    const collect = new Map<string, KnownFile>();
    if (st.isDirectory && memoPath && raw !== null) {
      known = new Map();
      try {
        const t = JSON.parse(await Deno.readTextFile(`${memoPath.slice(0, -5)}.files.json`));
        if (t.algo === HASH_ALGO) {
          for (let i = 0; i < t.rels.length; i++) {
            known.set(t.rels[i], {
              sig: t.sigs[i],
              hash: t.hashes[i],
              at: t.ats[i],
              mtimeMs: t.mtimes[i],
            });
          }
        }
      } catch { /* none yet */ }
    }
    const tree = await this.hashPath(abs, {
      raw: st.isDirectory ? raw : undefined,
      ...(known ? { known, collect } : {}),
    });
    if (!tree) return null;
    const summary = summarize(tree);
    if (known && memoPath) {
      const rels: string[] = [], sigs: string[] = [], hashes: string[] = [], ats: number[] = [];
      const mtimes: number[] = [];
      for (const [rel, k] of collect) {
        rels.push(rel);
        sigs.push(k.sig);
        hashes.push(k.hash);
        ats.push(k.at);
        mtimes.push(k.mtimeMs);
      }
      try {
        await Deno.mkdir(dirname(memoPath), { recursive: true });
        const fp = `${memoPath.slice(0, -5)}.files.json`;
        await Deno.writeTextFile(
          `${fp}.${Deno.pid}.tmp`,
          JSON.stringify({ algo: HASH_ALGO, rels, sigs, hashes, ats, mtimes }),
        );
        await Deno.rename(`${fp}.${Deno.pid}.tmp`, fp);
      } catch { /* read-only state folder */ }
    }
    if (memoPath && raw !== null) {
      let maxMtimeMs = st.mtime?.getTime() ?? Infinity;
      if (st.isDirectory) {
        for (const e of listTree(abs, raw)) maxMtimeMs = Math.max(maxMtimeMs, e.mtimeMs);
      }
      try {
        await Deno.mkdir(dirname(memoPath), { recursive: true });
        const tmp = `${memoPath}.${Deno.pid}.tmp`;
        const head = new TextEncoder().encode(
          JSON.stringify({ algo: HASH_ALGO, at, maxMtimeMs, summary }) + "\n",
        );
        const buf = new Uint8Array(head.length + rawBytes!.length);
        buf.set(head);
        buf.set(rawBytes!, head.length);
        await Deno.writeFile(tmp, buf);
        await Deno.rename(tmp, memoPath);
      } catch { /* read-only state folder: no memo */ }
    }
    return summary;
  }

  /** Writes the cache (atomically) if anything changed. */
  async save(): Promise<void> {
    if (!this.path || !this.#dirty) return;
    const files: unknown[] = [];
    for (const [p, e] of this.#files) files.push([p, e.sig, e.mtimeMs, e.hash, e.at]);
    const tmp = `${this.path}.${Deno.pid}.tmp`;
    await Deno.mkdir(this.path.slice(0, this.path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(
      tmp,
      JSON.stringify({ version: STAT_CACHE_VERSION, algo: HASH_ALGO, files }),
    );
    await Deno.rename(tmp, this.path);
    this.#dirty = false;
  }

  /** Forgets everything under `abs` (after the engine replaced it; only keeps the table small). */
  forget(abs: string): void {
    if (!this.#loading) return;
    const pre = abs + "/";
    for (const k of this.#files.keys()) {
      if (k === abs || k.startsWith(pre)) this.#files.delete(k);
    }
    this.#dirty = true;
  }

  #lookup(abs: string, sig: string): string | undefined {
    const e = this.#files.get(abs);
    // trusted only if the file was last modified well before it was hashed (racy timestamps)
    if (e && e.sig === sig && e.at - e.mtimeMs >= RACY_MS) return e.hash;
    return undefined;
  }

  /**
   * The content tree of a file or folder (symbolic links followed), or null when missing.
   * Files not in the cache are hashed in parallel: small ones in chunks on Workers (see
   * `hashSmallFiles`), large ones streamed, `concurrency` at a time. Without a given listing
   * (`raw`), small files are read and hashed on this thread while find is still listing, and
   * only those left when it ends go to the Workers.
   */
  async hashPath(
    abs: string,
    opts: {
      /** Large files (1 MiB or more) hashed at once. @default 4 */
      concurrency?: number;
      /** Workers hashing small files beside this thread (see `hashSmallFiles`). */
      workers?: number;
      /** How small files are read (see `hashSmallFiles`). @default "auto" */
      reader?: SmallFileReader;
      raw?: string | null;
      /** Hashes known for files under a folder (by relative path), instead of the table. */
      known?: Map<string, KnownFile>;
      /** Receives every file's entry (by relative path) when `known` is given. */
      collect?: Map<string, KnownFile>;
    } = {},
  ): Promise<TreeNode | null> {
    if (!opts.known) await this.#ensure();
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(abs);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    type Slot = { node?: TreeNode };
    type Dir = { abs: string; entries: [string, Slot | Dir][] };
    const misses: {
      abs: string;
      rel: string;
      sig: string;
      mtimeMs: number;
      size: number;
      slot: Slot;
    }[] = [];
    const known = opts.known;
    const fileSlot = (p: string, rel: string, sig: string, mtimeMs: number, size: number): Slot => {
      const slot: Slot = {};
      let h: string | undefined;
      if (known) {
        const k = known.get(rel);
        if (k && k.sig === sig && k.at - k.mtimeMs >= RACY_MS) {
          h = k.hash;
          opts.collect?.set(rel, k);
        }
      } else h = this.#lookup(p, sig);
      if (h) slot.node = { type: "file", hash: h, size };
      else misses.push({ abs: p, rel, sig, mtimeMs, size, slot });
      return slot;
    };
    /** Small files hashed while the listing was still arriving (see `streamFind`). */
    const early: { m: (typeof misses)[number]; hash: string; size: number; at: number }[] = [];
    let top: Slot | Dir;
    if (!st.isDirectory) top = fileSlot(abs, "", denoSig(st), st.mtime?.getTime() ?? -1, st.size);
    else {
      let dirs = new Map<string, Dir>();
      let root: Dir = { abs, entries: [] };
      dirs.set("", root);
      const add = (listed: Listed[]) => {
        for (const e of listed) {
          const cut = e.rel.lastIndexOf("/");
          const parent = dirs.get(cut < 0 ? "" : e.rel.slice(0, cut));
          if (!parent) continue;
          const name = cut < 0 ? e.rel : e.rel.slice(cut + 1);
          const p = `${abs}/${e.rel}`;
          if (e.dir) {
            const d: Dir = { abs: p, entries: [] };
            dirs.set(e.rel, d);
            parent.entries.push([name, d]);
          } else parent.entries.push([name, fileSlot(p, e.rel, e.sig, e.mtimeMs, e.size)]);
        }
      };
      let streamed = false;
      if (opts.raw === undefined) {
        // No listing given: find runs beside this thread while it reads and hashes the small
        // files listed so far (two cores busy without a Worker's start-up).
        let next = 0;
        // a read that fails counts only if find succeeds (else the walk below decides)
        let readError: unknown = null;
        const bytes = await streamFind(abs, async (text) => {
          add(parseFind(text));
          const batch = misses.slice(next).filter((m) => m.size < SMALL);
          next = misses.length;
          if (batch.length === 0 || readError) return;
          const at = Date.now();
          try {
            const hashes = await hashSmallFiles(batch.map((m) => m.abs), {
              workers: 0,
              sizes: batch.map((m) => m.size),
              reader: opts.reader,
            });
            batch.forEach((m, i) =>
              early.push({ m, hash: hashes[i].hash, size: hashes[i].size, at })
            );
          } catch (e) {
            readError = e;
          }
        });
        streamed = bytes !== null;
        if (streamed && readError) throw readError;
        if (!streamed) {
          // find missing or failed: start again from a walk with Deno
          misses.length = 0;
          early.length = 0;
          dirs = new Map();
          root = { abs, entries: [] };
          dirs.set("", root);
        }
      }
      if (!streamed) add(listTree(abs, opts.raw === undefined ? null : opts.raw));
      top = root;
    }
    const record = (m: (typeof misses)[number], hash: string, size: number, at: number) => {
      this.hashedFiles++;
      this.hashedBytes += size;
      if (size === m.size) {
        const entry = { sig: m.sig, mtimeMs: m.mtimeMs, hash, at };
        if (known) opts.collect?.set(m.rel, entry);
        else {
          this.#files.set(m.abs, entry);
          this.#dirty = true;
        }
      }
      m.slot.node = { type: "file", hash, size };
    };
    for (const e of early) record(e.m, e.hash, e.size, e.at);
    const done = new Set(early.map((e) => e.m));
    const small = misses.filter((m) => m.size < SMALL && !done.has(m));
    const large = misses.filter((m) => m.size >= SMALL);
    await Promise.all([
      (async () => {
        // small files: read whole, many at once (Workers when there are many); `at` is taken
        // before any is read, so a file written while the batch runs is never trusted
        const at = Date.now();
        const hashes = await hashSmallFiles(small.map((m) => m.abs), {
          workers: opts.workers,
          sizes: small.map((m) => m.size),
          reader: opts.reader,
        });
        small.forEach((m, i) => record(m, hashes[i].hash, hashes[i].size, at));
      })(),
      // large files: streamed, a few at a time
      mapLimit(large, opts.concurrency ?? 4, async (m) => {
        const at = Date.now();
        const { hash, size } = await hashFile(m.abs);
        record(m, hash, size, at);
      }),
    ]);
    const build = async (n: Slot | Dir): Promise<TreeNode> => {
      if (!("entries" in n)) return n.node!;
      n.entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const entries: Record<string, TreeNode> = {};
      let size = 0, files = 0;
      const lines: string[] = [];
      for (const [name, child] of n.entries) {
        const c = "entries" in child ? await build(child) : child.node!;
        entries[name] = c;
        size += c.size;
        files += c.type === "dir" ? c.files : 1;
        lines.push(`${c.type} ${c.hash} ${name}`);
      }
      const hash = await treeHash(lines.join("\n"));
      return { type: "dir", hash, size, files, entries };
    };
    return build(top);
  }
}

/** The Merkle hash of a folder listing ("type hash name" lines, sorted by name). */
export function treeHash(listing: string): Promise<string> {
  return hashBytes("sam2-tree-v1\n" + listing);
}

/** Hashes a path once, without a persistent cache. */
export function hashTree(abs: string): Promise<TreeNode | null> {
  return StatCache.memory().hashPath(abs);
}
