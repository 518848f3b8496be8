/**
 * `deno task bench pipeline [--json] [--quick] [--small-files]`: what the pipeline cache costs
 * (`--small-files`: only the small-file hashing section).
 *
 * - whole-process no-op re-run of a pipeline whose input is 10,000 (and 100,000) files, with a
 *   warm stat cache (targets: < 0.25 s and < 1.5 s), against a bare `deno run` of an empty
 *   script (the process start-up floor) timed in the same run;
 * - the re-run after one byte of one input changed (the stage runs again);
 * - first-run hashing throughput on a 1 GB file against `sha256sum` (and `b3sum` when
 *   installed) on the same file in the same run (target: at least 4x sha256sum);
 * - the same on the 10,000 files (files/s), against `sha256sum` over the same files, and
 *   against our own hashing on one thread (no Workers);
 * - what `deno task run` adds to a no-op (deno task is a second process in front of the CLI).
 *
 * `--baseline DIR` also times the no-op with the CLI of another checkout (DIR/src/cli/main.ts),
 * interleaved with ours on the same project: a before/after comparison under the same load.
 *
 * Wall times and CPU times (user+sys of the whole process, from /usr/bin/time when present)
 * are both printed: on a shared machine the CPU time is the steadier figure.
 */
import { hasherFactory, hashFile, StatCache } from "../src/pipeline/mod.ts";

const args = new Set(Deno.args);
const json = args.has("--json");
const quick = args.has("--quick");
const smallOnly = args.has("--small-files");
// --baseline DIR: another checkout (e.g. `git worktree add /tmp/base <commit>`) whose CLI's
// no-op is timed on the same project, interleaved with ours
const baselineAt = Deno.args.indexOf("--baseline");
const baselineMain = baselineAt >= 0
  ? new URL("src/cli/main.ts", `file://${Deno.args[baselineAt + 1].replace(/\/?$/, "/")}`).pathname
  : null;
const main = new URL("../src/cli/main.ts", import.meta.url).pathname;
const denoJson = new URL("../deno.json", import.meta.url).pathname;
const log = (s: string) => {
  if (!json) console.log(s);
};

interface Timed {
  wall: number;
  cpu: number | null;
  code: number;
  stdout: string;
}

async function timed(cmd: string[], cwd: string): Promise<Timed> {
  const hasTime = (() => {
    try {
      Deno.statSync("/usr/bin/time");
      return true;
    } catch {
      return false;
    }
  })();
  const full = hasTime ? ["/usr/bin/time", "-f", "@@cpu %U %S", ...cmd] : cmd;
  const t0 = performance.now();
  const out = await new Deno.Command(full[0], {
    args: full.slice(1),
    cwd,
    env: { CI: "true", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wall = (performance.now() - t0) / 1000;
  const err = new TextDecoder().decode(out.stderr);
  const m = err.match(/@@cpu ([\d.]+) ([\d.]+)/);
  return {
    wall,
    cpu: m ? Number(m[1]) + Number(m[2]) : null,
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout) + (out.code ? err : ""),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function makeProject(files: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `sam2-bench-${files}-` });
  await Deno.mkdir(`${dir}/.sam2`);
  const enc = new TextEncoder();
  const old = new Date(Date.now() - 3600_000);
  for (let i = 0; i < files; i++) {
    const sub = `${dir}/in/d${String(Math.floor(i / 100)).padStart(4, "0")}`;
    if (i % 100 === 0) await Deno.mkdir(sub, { recursive: true });
    const p = `${sub}/f${String(i).padStart(6, "0")}.txt`;
    Deno.writeFileSync(p, enc.encode(`file ${i} ${"x".repeat(i % 200)}\n`));
    Deno.utimeSync(p, old, old); // inputs are old files, as in a real project
  }
  await Deno.writeTextFile(
    `${dir}/pipeline.yaml`,
    "stages:\n  count:\n    run: find in -type f | wc -l > ${outs.o}\n    deps: [in]\n    outs:\n      o: out/count.txt\n",
  );
  return dir;
}

async function noop(files: number, reps: number) {
  const dir = await makeProject(files);
  try {
    const first = await timed([Deno.execPath(), "run", "-A", main, "run", "pipeline.yaml"], dir);
    if (first.code !== 0) throw new Error(first.stdout);
    // second run: outputs written by the first are now past the racy window once rehashed
    await new Promise((r) => setTimeout(r, 2100));
    await timed([Deno.execPath(), "run", "-A", main, "run", "pipeline.yaml"], dir);
    // each no-op is paired with a bare `deno run` of an empty script just before it, so that
    // both see the same load on a shared machine
    const runs: Timed[] = [];
    const floors: Timed[] = [];
    const base: Timed[] = [];
    const empty = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      for (let i = 0; i < reps; i++) {
        floors.push(await timed([Deno.execPath(), "run", "-A", empty], "/tmp"));
        const t = await timed([Deno.execPath(), "run", "-A", main, "run", "pipeline.yaml"], dir);
        if (!t.stdout.includes("1 up to date")) throw new Error(`not a no-op: ${t.stdout}`);
        runs.push(t);
        if (baselineMain) {
          const b = await timed(
            [Deno.execPath(), "run", "-A", baselineMain, "run", "pipeline.yaml"],
            dir,
          );
          if (!b.stdout.includes("1 up to date")) throw new Error(`baseline: ${b.stdout}`);
          base.push(b);
        }
      }
    } finally {
      await Deno.remove(empty);
    }
    // the same no-op through `deno task run` (what `deno task run FILE` costs a user)
    const viaTask: Timed[] = [];
    for (let i = 0; i < reps; i++) {
      const t = await timed([
        Deno.execPath(),
        "task",
        "--config",
        denoJson,
        "run",
        `${dir}/pipeline.yaml`,
      ], dir);
      if (!t.stdout.includes("1 up to date")) throw new Error(`not a no-op: ${t.stdout}`);
      viaTask.push(t);
    }
    // one byte of one input changes (same size, so only the content hash can tell)
    const victim = `${dir}/in/d0000/f000007.txt`;
    const bytes = Deno.readFileSync(victim);
    bytes[0] ^= 1;
    const st = Deno.statSync(victim);
    Deno.writeFileSync(victim, bytes);
    Deno.utimeSync(victim, st.atime!, st.mtime!); // same mtime too: the inode's ctime changes
    const changed = await timed([Deno.execPath(), "run", "-A", main, "run", "pipeline.yaml"], dir);
    if (!changed.stdout.includes("1 ran")) {
      throw new Error(`the changed byte was missed: ${changed.stdout}`);
    }
    return {
      files,
      firstRunWall: first.wall,
      noopWall: median(runs.map((r) => r.wall)),
      noopCpu: runs[0].cpu === null ? null : median(runs.map((r) => r.cpu!)),
      pairedFloorWall: median(floors.map((r) => r.wall)),
      pairedFloorCpu: floors[0].cpu === null ? null : median(floors.map((r) => r.cpu!)),
      noopOverFloorWall: median(runs.map((r, i) => r.wall / floors[i].wall)),
      baselineNoopWall: base.length ? median(base.map((r) => r.wall)) : null,
      baselineNoopCpu: base.length && base[0].cpu !== null ? median(base.map((r) => r.cpu!)) : null,
      noopViaDenoTaskWall: median(viaTask.map((r) => r.wall)),
      noopViaDenoTaskCpu: viaTask[0].cpu === null ? null : median(viaTask.map((r) => r.cpu!)),
      oneByteChangedWall: changed.wall,
      oneByteChangedCpu: changed.cpu,
      dir,
    };
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
}

async function which(cmd: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

/** CPU seconds of this process and of its waited-for children (find), from /proc. */
function cpuWithChildren(): number | null {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat");
    const v = f.slice(f.lastIndexOf(")") + 2).split(" ").map(Number);
    // fields 14-17 of stat(5): utime, stime, cutime, cstime, in clock ticks (100 per second)
    return (v[11] + v[12] + v[13] + v[14]) / 100;
  } catch {
    return null;
  }
}

/**
 * First-run hashing of the 10,000 files under `dir/in` (listing with find, reading, BLAKE3,
 * Merkle tree), in-process, against `find | xargs sha256sum` over the same files: as the
 * engine runs it (Workers only for idle cores), on one thread, on one thread reading with
 * Deno's ops (the path without FFI permission; what every read went through before), and with
 * one Worker forced. Best of `reps`, interleaved, so load from other processes hits all alike.
 */
async function smallFiles(dir: string, reps = 5) {
  const variants = {
    ours: {},
    oneThread: { workers: 0 },
    oneThreadDenoReads: { workers: 0, reader: "deno" as const },
    oneWorkerForced: { workers: 1 },
  };
  const best: Record<string, { wall: number; cpu: number | null }> = {};
  const keep = (k: string, wall: number, cpu: number | null) => {
    const b = best[k];
    best[k] = {
      wall: Math.min(b?.wall ?? Infinity, wall),
      cpu: cpu === null ? null : Math.min(b?.cpu ?? Infinity, cpu),
    };
  };
  let files = 0;
  let digest = "";
  for (let i = 0; i < reps; i++) {
    for (const [k, opts] of Object.entries(variants)) {
      const c0 = cpuWithChildren();
      const t0 = performance.now();
      const tree = await StatCache.memory().hashPath(`${dir}/in`, opts);
      const wall = (performance.now() - t0) / 1000;
      const c1 = cpuWithChildren();
      keep(k, wall, c0 === null || c1 === null ? null : c1 - c0);
      if (tree?.type !== "dir") throw new Error("no tree");
      if (digest && tree.hash !== digest) throw new Error(`${k}: a different tree hash`);
      digest = tree.hash;
      files = tree.files;
    }
    const s1 = await timed(
      ["sh", "-c", "find in -type f -print0 | xargs -0 sha256sum > /dev/null"],
      dir,
    );
    keep("sha256sum", s1.wall, s1.cpu);
  }
  const ratio = (k: string) => best.sha256sum.wall / best[k].wall;
  return {
    files,
    reps,
    filesPerS: Object.fromEntries(Object.entries(best).map(([k, b]) => [k, files / b.wall])),
    cpuS: Object.fromEntries(Object.entries(best).map(([k, b]) => [k, b.cpu])),
    ratioVsSha256sum: ratio("ours"),
    oneThreadRatioVsSha256sum: ratio("oneThread"),
    oneThreadDenoReadsRatioVsSha256sum: ratio("oneThreadDenoReads"),
    oneWorkerForcedRatioVsSha256sum: ratio("oneWorkerForced"),
    cpuRatioVsSha256sum: best.sha256sum.cpu && best.ours.cpu
      ? best.sha256sum.cpu / best.ours.cpu
      : null,
  };
}

function smallFilesLine(r: Awaited<ReturnType<typeof smallFiles>>): string {
  const f = (k: string) =>
    `${r.filesPerS[k].toFixed(0)} files/s, ${r.cpuS[k]?.toFixed(2) ?? "?"} s cpu`;
  return `hash ${r.files} small files (best of ${r.reps}; cpu includes find): ours ${f("ours")} = ${
    r.ratioVsSha256sum.toFixed(2)
  }x sha256sum (${r.cpuRatioVsSha256sum?.toFixed(2) ?? "?"}x in cpu); one thread ${
    f("oneThread")
  } = ${r.oneThreadRatioVsSha256sum.toFixed(2)}x; one thread reading with Deno ops (no FFI) ${
    f("oneThreadDenoReads")
  } = ${r.oneThreadDenoReadsRatioVsSha256sum.toFixed(2)}x; one Worker forced ${
    f("oneWorkerForced")
  } = ${r.oneWorkerForcedRatioVsSha256sum.toFixed(2)}x; sha256sum ${f("sha256sum")}`;
}

const { impl } = await hasherFactory();
const cpuModel = (() => {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
})();
const load = (() => {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "?";
  }
})();
log(
  `pipeline cache benchmark: ${cpuModel}, ${navigator.hardwareConcurrency} cores, load ${load}, BLAKE3 ${impl}`,
);

if (smallOnly) {
  // `--small-files`: only the small-file hashing, on a fresh 10,000-file project
  const dir = await makeProject(10_000);
  try {
    const r = await smallFiles(dir, 8);
    log(smallFilesLine(r));
    log(`load at the end: ${Deno.readTextFileSync("/proc/loadavg").split(" ")[0]}`);
    if (json) {
      console.log(
        JSON.stringify({ machine: { cpu: cpuModel, load: Number(load) }, smallFiles: r }),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
} else await fullRun();

/** Every section (the default). */
async function fullRun() {
  // Process start-up floor: deno running an empty script.
  const emptyScript = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(emptyScript, "\n");
  const floorRuns: Timed[] = [];
  for (let i = 0; i < 5; i++) {
    floorRuns.push(await timed([Deno.execPath(), "run", "-A", emptyScript], "/tmp"));
  }
  const floor = {
    wall: median(floorRuns.map((r) => r.wall)),
    cpu: floorRuns[0].cpu === null ? null : median(floorRuns.map((r) => r.cpu!)),
  };
  await Deno.remove(emptyScript);
  log(
    `deno start-up floor (empty script): ${floor.wall.toFixed(3)} s wall, ${
      floor.cpu?.toFixed(3) ?? "?"
    } s cpu`,
  );
  // The CLI's own start-up (main.ts imports every command module): `--help` does nothing else.
  const helpRuns: Timed[] = [];
  for (let i = 0; i < 5; i++) {
    helpRuns.push(await timed([Deno.execPath(), "run", "-A", main, "--help"], "/tmp"));
  }
  const cliFloor = {
    wall: median(helpRuns.map((r) => r.wall)),
    cpu: helpRuns[0].cpu === null ? null : median(helpRuns.map((r) => r.cpu!)),
  };
  log(
    `CLI start-up floor (main.ts --help): ${cliFloor.wall.toFixed(3)} s wall, ${
      cliFloor.cpu?.toFixed(3) ?? "?"
    } s cpu`,
  );

  // 1 GB file: BLAKE3 (ours) vs sha256sum vs b3sum, same file, same run.
  const bigSize = quick ? 256 << 20 : 1 << 30;
  const big = await Deno.makeTempFile({ prefix: "sam2-bench-big-" });
  {
    const f = await Deno.open(big, { write: true });
    const chunk = new Uint8Array(16 << 20);
    crypto.getRandomValues(chunk.subarray(0, 65536));
    for (let i = 65536; i < chunk.length; i += 65536) chunk.copyWithin(i, 0, 65536);
    for (let off = 0; off < bigSize; off += chunk.length) {
      chunk[0] = off & 255;
      await f.write(chunk);
    }
    f.close();
  }
  await hashFile(big); // page cache warm for everyone
  // best of 3, interleaved, so that load from other processes hits both sides alike
  let oursBig = Infinity;
  let sha: Timed | null = null;
  let b3: Timed | null = null;
  const hasB3 = await which("b3sum");
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await hashFile(big);
    oursBig = Math.min(oursBig, (performance.now() - t0) / 1000);
    const s1 = await timed(["sha256sum", big], "/tmp");
    if (!sha || s1.wall < sha.wall) sha = s1;
    if (hasB3) {
      const b1 = await timed(["b3sum", big], "/tmp");
      if (!b3 || b1.wall < b3.wall) b3 = b1;
    }
  }

  await Deno.remove(big);
  const mb = bigSize / 1e6;
  const bigRes = {
    bytes: bigSize,
    oursMBps: mb / oursBig,
    sha256sumMBps: mb / sha!.wall,
    b3sumMBps: b3 ? mb / b3.wall : null,
    ratioVsSha256sum: sha!.wall / oursBig,
  };
  log(
    `hash ${(bigSize / 2 ** 30).toFixed(2)} GiB file: ours ${
      bigRes.oursMBps.toFixed(0)
    } MB/s, sha256sum ${bigRes.sha256sumMBps.toFixed(0)} MB/s${
      b3 ? `, b3sum ${bigRes.b3sumMBps!.toFixed(0)} MB/s` : " (b3sum not installed)"
    }: ${bigRes.ratioVsSha256sum.toFixed(1)}x sha256sum (target >= 4x)`,
  );

  // No-op re-runs.
  const r10 = await noop(10_000, 9);
  const filesRes = await smallFiles(r10.dir);
  await Deno.remove(r10.dir, { recursive: true });
  const fmt = (r: Awaited<ReturnType<typeof noop>>, target: number) =>
    `no-op re-run, ${r.files} input files: ${
      r.noopWall.toFixed(3)
    } s wall (target < ${target} s), ${r.noopCpu?.toFixed(3) ?? "?"} s cpu (CLI start-up floor ${
      cliFloor.cpu?.toFixed(3) ?? "?"
    } s cpu); after one byte changed: ${
      r.oneByteChangedWall.toFixed(3)
    } s (stage re-ran); first run ${r.firstRunWall.toFixed(2)} s; no-op via deno task: ${
      r.noopViaDenoTaskWall.toFixed(3)
    } s wall, ${
      r.noopViaDenoTaskCpu?.toFixed(3) ?? "?"
    } s cpu; empty-script floor in the same reps ${r.pairedFloorWall.toFixed(3)} s wall (${
      r.pairedFloorCpu?.toFixed(3) ?? "?"
    } s cpu), no-op / floor ${r.noopOverFloorWall.toFixed(2)}x wall${
      r.baselineNoopWall === null
        ? ""
        : `; baseline checkout's no-op ${r.baselineNoopWall.toFixed(3)} s wall, ${
          r.baselineNoopCpu?.toFixed(3) ?? "?"
        } s cpu`
    }`;
  log(fmt(r10, 0.25));
  log(smallFilesLine(filesRes));
  let r100: Awaited<ReturnType<typeof noop>> | null = null;
  if (!quick) {
    r100 = await noop(100_000, 5);
    await Deno.remove(r100.dir, { recursive: true });
    log(fmt(r100, 1.5));
  }
  const loadEnd = (() => {
    try {
      return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
    } catch {
      return "?";
    }
  })();
  log(`load at the end: ${loadEnd} (at the start: ${load})`);
  if (json) {
    const strip = (r: typeof r10 | null) => {
      if (!r) return null;
      const { dir: _d, ...rest } = r;
      return rest;
    };
    console.log(JSON.stringify({
      machine: {
        cpu: cpuModel,
        cores: navigator.hardwareConcurrency,
        load: Number(load),
        loadEnd: Number(loadEnd),
        blake3: impl,
      },
      startupFloor: floor,
      cliStartupFloor: cliFloor,
      bigFile: bigRes,
      smallFiles: filesRes,
      noop10k: strip(r10),
      noop100k: strip(r100),
    }));
  }
}
