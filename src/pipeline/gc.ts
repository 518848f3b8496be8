/**
 * `cache gc` and `cache verify`. gc keeps every run entry a known lock file references (plus
 * the last N runs, entries newer than a date, and pinned ones) and every object those entries
 * reference; verify rehashes every object and deletes corrupted ones together with the entries
 * that reference them, so the next run re-creates them.
 */
import { hashFile } from "./hash.ts";
import { readLockFile } from "./lockfile.ts";
import type { RunEntry, Store } from "./store.ts";
import type { TreeNode } from "./tree.ts";

/** Options of `gcStore`. */
export interface GcOptions {
  /** Also keep entries used by the last N runs. @default 0 */
  keepLast?: number;
  /** Also keep entries created at or after this date. */
  keepNewer?: Date;
  /** Extra lock files whose entries to keep (besides those registered in the store). */
  lockFiles?: string[];
  /** List what would be freed; delete nothing. @default false */
  dryRun?: boolean;
}

/** What `gcStore` freed (or would free). */
export interface GcReport {
  entriesKept: number;
  entriesRemoved: { key: string; stage: string; createdAt: string }[];
  objectsKept: number;
  objectsRemoved: number;
  bytesFreed: number;
}

function treeObjects(t: TreeNode, out: Set<string>): void {
  if (t.type === "file") out.add(t.hash);
  else for (const c of Object.values(t.entries)) treeObjects(c, out);
}

/** Removes run entries and objects nothing keeps. */
export async function gcStore(store: Store, opts: GcOptions = {}): Promise<GcReport> {
  const keepKeys = new Set<string>();
  for (const lf of new Set([...(await store.lockFiles()), ...(opts.lockFiles ?? [])])) {
    const lock = await readLockFile(lf, "");
    for (const s of Object.values(lock.stages)) keepKeys.add(s.key);
  }
  if (opts.keepLast && opts.keepLast > 0) {
    for (const run of (await store.history()).slice(-opts.keepLast)) {
      for (const k of run.keys) keepKeys.add(k);
    }
  }
  const entries: RunEntry[] = [];
  for await (const e of store.entries()) entries.push(e);
  const kept: RunEntry[] = [];
  const removed: RunEntry[] = [];
  for (const e of entries) {
    const keep = keepKeys.has(e.key) || e.pinned ||
      (opts.keepNewer && new Date(e.createdAt).getTime() >= opts.keepNewer.getTime());
    (keep ? kept : removed).push(e);
  }
  const live = new Set<string>();
  for (const e of kept) {
    for (const t of Object.values(e.outs)) treeObjects(t, live);
    if (e.log) live.add(e.log);
  }
  let objectsRemoved = 0, bytesFreed = 0, objectsKept = 0;
  for (const o of store.objects()) {
    if (live.has(o.hash)) {
      objectsKept++;
      continue;
    }
    objectsRemoved++;
    bytesFreed += o.size;
    if (!opts.dryRun) await Deno.remove(store.objectPath(o.hash)).catch(() => {});
  }
  if (!opts.dryRun) { for (const e of removed) await store.deleteEntry(e.key); }
  return {
    entriesKept: kept.length,
    entriesRemoved: removed.map((e) => ({ key: e.key, stage: e.stage, createdAt: e.createdAt })),
    objectsKept,
    objectsRemoved,
    bytesFreed,
  };
}

/** What `verifyStore` found. */
export interface VerifyReport {
  objectsChecked: number;
  bytesChecked: number;
  corrupted: { hash: string; actual: string | null }[];
  /** Entries deleted because an object they need is corrupted or missing. */
  entriesDropped: { key: string; stage: string }[];
}

/** Rehashes every object; corrupted ones (and entries needing them) are deleted unless `repair: false`. */
export async function verifyStore(
  store: Store,
  opts: { repair?: boolean } = {},
): Promise<VerifyReport> {
  const corrupted: VerifyReport["corrupted"] = [];
  let n = 0, bytes = 0;
  const bad = new Set<string>();
  for (const o of store.objects()) {
    n++;
    let actual: string | null = null;
    try {
      const r = await hashFile(store.objectPath(o.hash));
      actual = r.hash;
      bytes += r.size;
    } catch { /* unreadable */ }
    if (actual !== o.hash) {
      corrupted.push({ hash: o.hash, actual });
      bad.add(o.hash);
      if (opts.repair !== false) await Deno.remove(store.objectPath(o.hash)).catch(() => {});
    }
  }
  const entriesDropped: VerifyReport["entriesDropped"] = [];
  for await (const e of store.entries()) {
    const need = new Set<string>();
    for (const t of Object.values(e.outs)) treeObjects(t, need);
    const broken = [...need].some((h) => bad.has(h) || !store.has(h));
    if (broken) {
      entriesDropped.push({ key: e.key, stage: e.stage });
      if (opts.repair !== false) await store.deleteEntry(e.key);
    }
  }
  return { objectsChecked: n, bytesChecked: bytes, corrupted, entriesDropped };
}

/** Sets or clears `pinned` on the entries whose key starts with `prefix`; returns their keys. */
export async function pinEntries(store: Store, prefix: string, pinned: boolean): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of store.entries()) {
    if (!e.key.startsWith(prefix) && e.stage !== prefix) continue;
    e.pinned = pinned;
    await store.putEntry(e);
    keys.push(e.key);
  }
  return keys;
}
