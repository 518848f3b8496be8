/**
 * The content-addressed store. Files live once under `objects/<hash[:2]>/<hash>` (read-only),
 * run entries (a stage key and the trees it produced) under `runs/<key[:2]>/<key>.json`, both
 * written to a temporary name and renamed, so nothing half-written is ever visible.
 *
 * Restoring makes each workspace file a separate inode, so editing a restored file in place
 * can never change the store. The copy is `Deno.copyFile`, which on Linux is one
 * `copy_file_range(2)` call (checked with strace): on filesystems that share extents —
 * Btrfs, XFS made with reflink=1 (the default since xfsprogs 5.1), bcachefs, OCFS2, and
 * OpenZFS 2.2+ with block cloning on — the kernel makes it a reflink, instant and taking no
 * space until one side is written; on ext4 (this machine), tmpfs and most others it is an
 * in-kernel copy that never passes through this process. Storing a file uses the same call.
 *
 * Read-only hard links (`link: "hardlink"`, `SAM2_LINK=hardlink`) are opt-in. They cost
 * nothing on any filesystem, but the workspace file IS the stored object: the 0444 mode is
 * the only thing between an in-place edit and a corrupted store, and root ignores modes
 * (CAP_DAC_OVERRIDE: `echo x >> restored` succeeds), as does any owner who runs `chmod u+w`.
 * Use them only where outputs are never edited in place; `cache verify` finds the damage.
 */
import { HASH_ALGO, hashFile, mapLimit } from "./hash.ts";
import type { TreeNode } from "./tree.ts";

/** What one stage run produced, stored under its key. */
export interface RunEntry {
  schema: 1;
  algo: string;
  key: string;
  pipeline: string;
  stage: string;
  kind: string;
  components: unknown;
  /** Output name to content tree. */
  outs: Record<string, TreeNode>;
  /** Object hash of the stage's log. */
  log?: string;
  createdAt: string;
  durationMs: number;
  pinned?: boolean;
}

/** How restored files are made. */
export type LinkMode = "copy" | "hardlink";

/** Options of `Store`. */
export interface StoreOptions {
  /**
   * `"hardlink"` shares the stored inode (unsafe as root: see the module doc).
   * @default "copy" (reflinks where the filesystem supports them)
   */
  link?: LinkMode;
}

let tmpCounter = 0;
const tmpName = () => `${Deno.pid}-${Date.now().toString(36)}-${(tmpCounter++).toString(36)}`;

/** A content-addressed store folder. */
export class Store {
  readonly link: LinkMode;
  constructor(readonly dir: string, opts: StoreOptions = {}) {
    this.link = opts.link ?? "copy";
  }

  objectPath(hash: string): string {
    return `${this.dir}/objects/${hash.slice(0, 2)}/${hash}`;
  }

  entryPath(key: string): string {
    return `${this.dir}/runs/${key.slice(0, 2)}/${key}.json`;
  }

  #tmp(): string {
    return `${this.dir}/tmp/${tmpName()}`;
  }

  async #ensureDirs(): Promise<void> {
    await Deno.mkdir(`${this.dir}/tmp`, { recursive: true });
  }

  /** Whether an object is present. */
  has(hash: string): boolean {
    try {
      Deno.statSync(this.objectPath(hash));
      return true;
    } catch {
      return false;
    }
  }

  /** Adds a file's content (already hashed as `hash`) unless present. */
  async putFile(abs: string, hash: string): Promise<void> {
    if (this.has(hash)) return;
    await this.#ensureDirs();
    const tmp = this.#tmp();
    await Deno.copyFile(abs, tmp);
    await Deno.chmod(tmp, 0o444);
    await Deno.mkdir(`${this.dir}/objects/${hash.slice(0, 2)}`, { recursive: true });
    await Deno.rename(tmp, this.objectPath(hash));
  }

  /** Adds bytes; returns their hash. */
  async putBytes(data: Uint8Array, hash: string): Promise<void> {
    if (this.has(hash)) return;
    await this.#ensureDirs();
    const tmp = this.#tmp();
    await Deno.writeFile(tmp, data, { mode: 0o444 });
    await Deno.mkdir(`${this.dir}/objects/${hash.slice(0, 2)}`, { recursive: true });
    await Deno.rename(tmp, this.objectPath(hash));
  }

  /** Adds every file of a tree at `abs`. */
  async putTree(abs: string, tree: TreeNode): Promise<void> {
    const files: [string, string][] = [];
    const walk = (p: string, t: TreeNode) => {
      if (t.type === "file") files.push([p, t.hash]);
      else for (const [n, c] of Object.entries(t.entries)) walk(`${p}/${n}`, c);
    };
    walk(abs, tree);
    await mapLimit(files, 8, ([p, h]) => this.putFile(p, h));
  }

  /** Whether every object of a tree is present. */
  hasTree(tree: TreeNode): boolean {
    if (tree.type === "file") return this.has(tree.hash);
    return Object.values(tree.entries).every((c) => this.hasTree(c));
  }

  /** Writes a tree from the store at `dest` (which must not exist). */
  async restoreTree(tree: TreeNode, dest: string): Promise<void> {
    const files: [string, string][] = [];
    const walk = async (p: string, t: TreeNode) => {
      if (t.type === "file") {
        files.push([p, t.hash]);
        return;
      }
      await Deno.mkdir(p, { recursive: true });
      for (const [n, c] of Object.entries(t.entries)) await walk(`${p}/${n}`, c);
    };
    await walk(dest, tree);
    await mapLimit(files, 8, async ([p, h]) => {
      const obj = this.objectPath(h);
      if (this.link === "hardlink") {
        try {
          await Deno.link(obj, p);
          return;
        } catch { /* another filesystem: copy */ }
      }
      await Deno.copyFile(obj, p);
      await Deno.chmod(p, 0o644);
    });
  }

  /** Rehashes the objects of a tree and deletes those whose content does not match. */
  async dropCorrupt(tree: TreeNode): Promise<string[]> {
    const hashes = new Set<string>();
    const walk = (t: TreeNode) => {
      if (t.type === "file") hashes.add(t.hash);
      else for (const c of Object.values(t.entries)) walk(c);
    };
    walk(tree);
    const bad: string[] = [];
    for (const h of hashes) {
      let actual: string | null = null;
      try {
        actual = (await hashFile(this.objectPath(h))).hash;
      } catch { /* missing or unreadable */ }
      if (actual !== h) {
        bad.push(h);
        await Deno.remove(this.objectPath(h)).catch(() => {});
      }
    }
    return bad;
  }

  /** The run entry for `key`; a corrupt entry is deleted and reported as absent. */
  async getEntry(key: string, warn?: (msg: string) => void): Promise<RunEntry | null> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.entryPath(key));
    } catch {
      return null;
    }
    try {
      const e = JSON.parse(text) as RunEntry;
      if (e.schema !== 1 || e.key !== key || e.algo !== HASH_ALGO || typeof e.outs !== "object") {
        throw new Error("unexpected content");
      }
      return e;
    } catch (err) {
      warn?.(`Run-cache entry ${key.slice(0, 12)} is corrupt (${(err as Error).message}): deleted`);
      await Deno.remove(this.entryPath(key)).catch(() => {});
      return null;
    }
  }

  /** Writes a run entry atomically. */
  async putEntry(e: RunEntry): Promise<void> {
    await this.#ensureDirs();
    const tmp = this.#tmp();
    await Deno.writeTextFile(tmp, JSON.stringify(e, null, 1));
    await Deno.mkdir(`${this.dir}/runs/${e.key.slice(0, 2)}`, { recursive: true });
    await Deno.rename(tmp, this.entryPath(e.key));
  }

  /** Deletes a run entry. */
  async deleteEntry(key: string): Promise<void> {
    await Deno.remove(this.entryPath(key)).catch(() => {});
  }

  /** All run entries (corrupt ones are skipped). */
  async *entries(): AsyncGenerator<RunEntry> {
    for (const sub of readDirNames(`${this.dir}/runs`)) {
      for (const f of readDirNames(`${this.dir}/runs/${sub}`)) {
        if (!f.endsWith(".json")) continue;
        const e = await this.getEntry(f.slice(0, -5));
        if (e) yield e;
      }
    }
  }

  /** All object hashes with their sizes. */
  *objects(): Generator<{ hash: string; size: number }> {
    for (const sub of readDirNames(`${this.dir}/objects`)) {
      for (const f of readDirNames(`${this.dir}/objects/${sub}`)) {
        let size = 0;
        try {
          size = Deno.statSync(`${this.dir}/objects/${sub}/${f}`).size;
        } catch { /* raced */ }
        yield { hash: f, size };
      }
    }
  }

  /** Appends one line to the run history (used by `cache gc --keep-last`). */
  async recordRun(line: { at: string; pipeline: string; keys: string[] }): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    await Deno.writeTextFile(`${this.dir}/history.jsonl`, JSON.stringify(line) + "\n", {
      append: true,
    });
  }

  /** The run history, oldest first. */
  async history(): Promise<{ at: string; pipeline: string; keys: string[] }[]> {
    try {
      return (await Deno.readTextFile(`${this.dir}/history.jsonl`)).split("\n").filter(Boolean)
        .flatMap((l) => {
          try {
            return [JSON.parse(l)];
          } catch {
            return [];
          }
        });
    } catch {
      return [];
    }
  }

  /** Remembers a lock file that refers to this store (so `gc` keeps what it references). */
  async registerLockFile(path: string): Promise<void> {
    const list = await this.lockFiles();
    if (list.includes(path)) return;
    await Deno.mkdir(this.dir, { recursive: true });
    const tmp = `${this.dir}/lockfiles.json.${tmpName()}`;
    await Deno.writeTextFile(tmp, JSON.stringify([...list, path].sort(), null, 1));
    await Deno.rename(tmp, `${this.dir}/lockfiles.json`);
  }

  /** Lock files known to use this store. */
  async lockFiles(): Promise<string[]> {
    try {
      return JSON.parse(await Deno.readTextFile(`${this.dir}/lockfiles.json`));
    } catch {
      return [];
    }
  }
}

function readDirNames(p: string): string[] {
  try {
    return [...Deno.readDirSync(p)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}
