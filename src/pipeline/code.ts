/**
 * The "code" part of a stage key: the content of the project source modules a kind is made
 * of, following imports (static and literal dynamic ones) inside the project root, found with
 * `deno info --json`. Kinds import their implementation with `importLazily` (so that loading
 * the registry stays cheap), which `deno info` cannot follow: they list those modules in
 * `StageKind.modules` instead. Editing a training kernel thus invalidates `train` but not
 * `extract-frames`. The graph is computed once per process per module, and remembered on disk
 * with the hash of every file in it: while none of them changed, their imports cannot have
 * changed either, so `deno info` is not run again.
 */
import { hashBytes } from "./hash.ts";
import type { StatCache } from "./tree.ts";

const graphs = new Map<string, Promise<string[]>>();
const ENGINE_DIR = decodeURIComponent(new URL("./", import.meta.url).pathname);

/** Project-local files of a module's import graph (absolute paths), via `deno info --json`. */
export function moduleGraph(url: string, root: string): Promise<string[]> {
  let p = graphs.get(url);
  if (!p) {
    p = (async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["info", "--json", url],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      if (!out.success) {
        throw new Error(
          `deno info ${url} failed: ${new TextDecoder().decode(out.stderr).trim().split("\n")[0]}`,
        );
      }
      const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
        modules: { specifier: string; error?: string }[];
      };
      const files = new Set<string>();
      for (const m of info.modules) {
        if (!m.specifier.startsWith("file://") || m.error) continue;
        const path = decodeURIComponent(new URL(m.specifier).pathname);
        if (!path.startsWith(root + "/") || path.includes("/node_modules/")) continue;
        // the engine is not part of any kind: editing it must not invalidate every stage
        if (path.startsWith(ENGINE_DIR) && !path.startsWith(`${ENGINE_DIR}kinds/`)) continue;
        files.add(path);
      }
      return [...files].sort();
    })();
    graphs.set(url, p);
  }
  return p;
}

interface GraphMemo {
  /** modules joined by "|" -> files (absolute) with hashes, and the combined code hash */
  [modules: string]: { files: Record<string, string>; code: string };
}

/** Computes code hashes for kinds, with the on-disk graph memo at `memoPath`. */
export class CodeHasher {
  #memo: GraphMemo | null = null;
  #dirty = false;
  constructor(readonly root: string, readonly memoPath: string, readonly stats: StatCache) {}

  async #load(): Promise<GraphMemo> {
    if (this.#memo) return this.#memo;
    try {
      this.#memo = JSON.parse(await Deno.readTextFile(this.memoPath));
    } catch {
      this.#memo = {};
    }
    return this.#memo!;
  }

  /** Hash of one file via the stat cache (null when gone). */
  async #fileHash(abs: string): Promise<string | null> {
    const t = await this.stats.summaryOf(abs);
    return t?.type === "file" ? t.hash : null;
  }

  /** The files (relative to the root) and their hashes for `modules`, and one combined hash. */
  async hash(modules: string[]): Promise<{ code: string; files: Record<string, string> }> {
    const memo = await this.#load();
    const id = modules.join("|");
    const prev = memo[id];
    let ok = !!prev && Object.keys(prev.files).length > 0;
    if (ok) {
      for (const [f, h] of Object.entries(prev.files)) {
        if ((await this.#fileHash(f)) !== h) {
          ok = false;
          break;
        }
      }
    }
    let entry = prev;
    if (!ok) {
      const abs = new Set<string>();
      for (const url of modules) for (const f of await moduleGraph(url, this.root)) abs.add(f);
      const files: Record<string, string> = {};
      for (const f of [...abs].sort()) {
        const h = await this.#fileHash(f);
        if (h) files[f] = h;
      }
      const code = await hashBytes(
        Object.entries(files).map(([f, h]) => `${h} ${f.slice(this.root.length + 1)}`).join("\n"),
      );
      entry = { files, code };
      memo[id] = entry;
      this.#dirty = true;
    }
    const rel: Record<string, string> = {};
    for (const [f, h] of Object.entries(entry.files)) rel[f.slice(this.root.length + 1)] = h;
    return { code: entry.code, files: rel };
  }

  async save(): Promise<void> {
    if (!this.#dirty || !this.#memo) return;
    const tmp = `${this.memoPath}.${Deno.pid}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(this.#memo));
    await Deno.rename(tmp, this.memoPath);
    this.#dirty = false;
  }
}

const toolVersions = new Map<string, Promise<string>>();
let toolMemoPath: string | null = null;

/** Where tool versions are remembered between processes (keyed by the binary's stat). */
export function setToolMemo(path: string | null): void {
  toolMemoPath = path;
}

/** The executable `tool` resolves to on PATH, with a stat signature, or null. */
function whichTool(tool: string): { path: string; sig: string } | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const p = Deno.realPathSync(`${dir}/${tool}`);
      const st = Deno.statSync(p);
      if (st.isFile) {
        return { path: p, sig: `${st.dev}:${st.ino}:${st.size}:${st.mtime?.getTime()}` };
      }
    } catch { /* not here */ }
  }
  return null;
}

/**
 * The first line of `<tool> -version` (or Deno's own version). Starting ffmpeg just to ask is
 * slow, so the answer is remembered per binary (path, inode, size, mtime): a new ffmpeg is a
 * new binary and is asked again.
 */
export function toolVersion(tool: string): Promise<string> {
  let p = toolVersions.get(tool);
  if (!p) {
    p = (async () => {
      if (tool === "deno") return `deno ${Deno.version.deno}`;
      const bin = whichTool(tool);
      if (!bin) return `${tool} (not installed)`;
      let memo: Record<string, { sig: string; version: string }> = {};
      if (toolMemoPath) {
        try {
          memo = JSON.parse(await Deno.readTextFile(toolMemoPath));
          if (memo[bin.path]?.sig === bin.sig) return memo[bin.path].version;
        } catch { /* none yet */ }
      }
      let version: string;
      try {
        const out = await new Deno.Command(bin.path, {
          args: ["-version"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        version = new TextDecoder().decode(out.stdout).split("\n")[0].trim() ||
          `${tool} (no version)`;
      } catch {
        return `${tool} (cannot run)`;
      }
      if (toolMemoPath) {
        try {
          memo[bin.path] = { sig: bin.sig, version };
          const tmp = `${toolMemoPath}.${Deno.pid}.tmp`;
          await Deno.writeTextFile(tmp, JSON.stringify(memo, null, 1));
          await Deno.rename(tmp, toolMemoPath);
        } catch { /* read-only state folder */ }
      }
      return version;
    })();
    toolVersions.set(tool, p);
  }
  return p;
}
