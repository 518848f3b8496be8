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
import { HASH_ALGO, hashBytes, hashFile, mapLimit } from "./hash.ts";

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

interface FileEntry {
  dev: number;
  ino: number;
  size: number;
  mtime: number;
  ctime: number;
  hash: string;
  at: number;
}

const STAT_CACHE_VERSION = 1;

/** Content hashes of files keyed by their stat, persisted in the state folder. */
export class StatCache {
  readonly #files = new Map<string, FileEntry>();
  readonly #dirs = new Map<string, { listing: string; hash: string }>();
  #dirty = false;
  /** Files actually read and hashed in this process (for reports and tests). */
  hashedFiles = 0;
  hashedBytes = 0;

  private constructor(readonly path: string | null) {}

  /** An empty cache that is never saved. */
  static memory(): StatCache {
    return new StatCache(null);
  }

  /** Loads the cache at `path` (a missing or unreadable cache is an empty one). */
  static async load(path: string): Promise<StatCache> {
    const c = new StatCache(path);
    try {
      const j = JSON.parse(await Deno.readTextFile(path));
      if (j.version === STAT_CACHE_VERSION && j.algo === HASH_ALGO) {
        for (
          const r of j.files as [string, number, number, number, number, number, string, number][]
        ) {
          c.#files.set(r[0], {
            dev: r[1],
            ino: r[2],
            size: r[3],
            mtime: r[4],
            ctime: r[5],
            hash: r[6],
            at: r[7],
          });
        }
        for (const r of j.dirs as [string, string, string][]) {
          c.#dirs.set(r[0], { hash: r[1], listing: r[2] });
        }
      }
    } catch { /* start empty */ }
    return c;
  }

  /** Writes the cache (atomically) if anything changed. */
  async save(): Promise<void> {
    if (!this.path || !this.#dirty) return;
    const files: unknown[] = [];
    for (const [p, e] of this.#files) {
      files.push([p, e.dev, e.ino, e.size, e.mtime, e.ctime, e.hash, e.at]);
    }
    const dirs: unknown[] = [];
    for (const [p, d] of this.#dirs) dirs.push([p, d.hash, d.listing]);
    const tmp = `${this.path}.${Deno.pid}.tmp`;
    await Deno.mkdir(this.path.slice(0, this.path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(
      tmp,
      JSON.stringify({ version: STAT_CACHE_VERSION, algo: HASH_ALGO, files, dirs }),
    );
    await Deno.rename(tmp, this.path);
    this.#dirty = false;
  }

  /** Forgets everything under `abs` (after the engine replaced it). */
  forget(abs: string): void {
    const pre = abs + "/";
    for (const k of this.#files.keys()) if (k === abs || k.startsWith(pre)) this.#files.delete(k);
    for (const k of this.#dirs.keys()) if (k === abs || k.startsWith(pre)) this.#dirs.delete(k);
    this.#dirty = true;
  }

  /** Drops entries of files that no longer exist (keeps the cache from growing forever). */
  prune(keep: (abs: string) => boolean): void {
    for (const k of this.#files.keys()) {
      if (!keep(k)) {
        this.#files.delete(k);
        this.#dirty = true;
      }
    }
  }

  /** The cached hash of a file with this stat, if trustworthy. */
  lookup(abs: string, st: Deno.FileInfo): string | undefined {
    const e = this.#files.get(abs);
    if (!e) return undefined;
    const mtime = st.mtime?.getTime() ?? -1;
    if (
      e.dev === st.dev && e.ino === st.ino && e.size === st.size && e.mtime === mtime &&
      e.ctime === (st.ctime?.getTime() ?? -1) && e.at - mtime >= RACY_MS
    ) return e.hash;
    return undefined;
  }

  /** Records the hash of a file whose stat was `st` when hashing began. */
  record(abs: string, st: Deno.FileInfo, hash: string, at = Date.now()): void {
    this.#files.set(abs, {
      dev: st.dev ?? -1,
      ino: st.ino ?? -1,
      size: st.size,
      mtime: st.mtime?.getTime() ?? -1,
      ctime: st.ctime?.getTime() ?? -1,
      hash,
      at,
    });
    this.#dirty = true;
  }

  /**
   * The content tree of a file or folder (symbolic links followed), or null when missing.
   * Files not in the cache are hashed `concurrency` at a time.
   */
  async hashPath(abs: string, opts: { concurrency?: number } = {}): Promise<TreeNode | null> {
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(abs);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    const misses: { abs: string; st: Deno.FileInfo; slot: { node?: TreeNode } }[] = [];
    type Pending = { type: "file"; slot: { node?: TreeNode } } | {
      type: "dir";
      abs: string;
      entries: [string, Pending][];
    };
    const walk = (p: string, s: Deno.FileInfo): Pending => {
      if (s.isDirectory) {
        const entries: [string, Pending][] = [];
        for (const e of Deno.readDirSync(p)) {
          const child = `${p}/${e.name}`;
          let cs: Deno.FileInfo;
          try {
            cs = e.isSymlink ? Deno.statSync(child) : Deno.lstatSync(child);
          } catch (err) {
            throw new Error(`Cannot read "${child}": ${(err as Error).message}`);
          }
          if (!cs.isFile && !cs.isDirectory) continue; // sockets, fifos, devices: not content
          entries.push([e.name, walk(child, cs)]);
        }
        return { type: "dir", abs: p, entries };
      }
      const slot: { node?: TreeNode } = {};
      const h = this.lookup(p, s);
      if (h) slot.node = { type: "file", hash: h, size: s.size };
      else misses.push({ abs: p, st: s, slot });
      return { type: "file", slot };
    };
    const pending = walk(abs, st);
    await mapLimit(misses, opts.concurrency ?? 16, async (m) => {
      const at = Date.now();
      const { hash, size } = await hashFile(m.abs);
      this.hashedFiles++;
      this.hashedBytes += size;
      if (size === m.st.size) this.record(m.abs, m.st, hash, at);
      m.slot.node = { type: "file", hash, size };
    });
    const build = async (p: Pending): Promise<TreeNode> => {
      if (p.type === "file") return p.slot.node!;
      p.entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const entries: Record<string, TreeNode> = {};
      let size = 0, files = 0;
      const lines: string[] = [];
      for (const [name, child] of p.entries) {
        const n = await build(child);
        entries[name] = n;
        size += n.size;
        files += n.type === "dir" ? n.files : 1;
        lines.push(`${n.type} ${n.hash} ${name}`);
      }
      const listing = lines.join("\n");
      const memo = this.#dirs.get(p.abs);
      let hash: string;
      if (memo && memo.listing === listing) hash = memo.hash;
      else {
        hash = await treeHash(listing);
        this.#dirs.set(p.abs, { listing, hash });
        this.#dirty = true;
      }
      return { type: "dir", hash, size, files, entries };
    };
    return build(pending);
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
