/**
 * One run of a pipeline at a time: a lock file in the state folder holding the owner's pid,
 * host and process start time. A second run waits (or, with `wait: false`, refuses); a lock
 * whose owner process is gone (same host, pid dead or reused) is taken over.
 */
import { LockBusyError } from "./errors.ts";

interface Owner {
  pid: number;
  host: string;
  start: string;
  since: string;
  pipeline: string;
}

function procStart(pid: number): string {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

function alive(o: Owner): boolean {
  if (o.host !== Deno.hostname()) return true; // cannot tell: assume alive
  const start = procStart(o.pid);
  if (start === "") {
    try {
      Deno.kill(o.pid, "SIGCONT"); // no /proc: probe
      return true;
    } catch {
      return false;
    }
  }
  return o.start === "" || start === o.start;
}

/** Options of `acquireRunLock`. */
export interface RunLockOptions {
  /** Wait for another run to finish. @default true */
  wait?: boolean;
  /** Called once when waiting starts. */
  onWait?: (message: string) => void;
  /** Poll interval. @default 200 */
  pollMs?: number;
  signal?: AbortSignal;
}

/** Takes the run lock at `path`; returns a release function. */
export async function acquireRunLock(
  path: string,
  pipeline: string,
  opts: RunLockOptions = {},
): Promise<() => void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const me: Owner = {
    pid: Deno.pid,
    host: Deno.hostname(),
    start: procStart(Deno.pid),
    since: new Date().toISOString(),
    pipeline,
  };
  let told = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const f = Deno.openSync(path, { write: true, createNew: true });
      f.writeSync(new TextEncoder().encode(JSON.stringify(me)));
      f.close();
      return () => {
        try {
          const cur = JSON.parse(Deno.readTextFileSync(path)) as Owner;
          if (cur.pid === me.pid && cur.host === me.host) Deno.removeSync(path);
        } catch { /* already gone */ }
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    let owner: Owner | null = null;
    try {
      owner = JSON.parse(Deno.readTextFileSync(path));
    } catch {
      // being written right now, or garbage left by a crash: give it a moment, then take it
      const age = Date.now() - (Deno.statSync(path).mtime?.getTime() ?? 0);
      if (age > 2000) Deno.removeSync(path);
    }
    if (owner && !alive(owner)) {
      try {
        Deno.removeSync(path); // left by a dead process: recover
      } catch { /* someone else did */ }
      continue;
    }
    if (owner) {
      const msg =
        `${pipeline} is being run by pid ${owner.pid} on ${owner.host} since ${owner.since}`;
      if (opts.wait === false) {
        throw new LockBusyError(`${msg}; wait for it or run again without --no-wait`);
      }
      if (!told) {
        opts.onWait?.(`${msg}: waiting for it to finish (--no-wait refuses instead)`);
        told = true;
      }
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
  }
}
