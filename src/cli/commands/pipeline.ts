/**
 * The pipeline commands, registered top-level: `run`, `status`, `dag`, `explain`, `cache`.
 *
 * @example
 * ```sh
 * deno task run pipelines/demo.yaml --jobs 2
 * deno task status pipelines/demo.yaml
 * deno task dag pipelines/demo.yaml --format mermaid
 * deno task explain pipelines/demo.yaml frames@clip_000 --json
 * deno task cache gc --keep-last 3 --dry-run
 * ```
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  engine,
  registryFor,
  report,
  RUN_DEFAULTS,
  runCommand,
  typedVars,
} from "./pipeline_run.ts";

function collectVar(v: string, prev: Record<string, string>): Record<string, string> {
  const i = v.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`expected NAME=VALUE, got "${v}"`);
  return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  }
  return n;
}

const kindsOption = () =>
  new Option(
    "--kinds <module...>",
    "modules exporting more stage kinds (export const kinds = [...])",
  );

const varOption = () =>
  new Option("--var <name=value>", "override a pipeline var (repeatable)").argParser(collectVar)
    .default({}, "");
const storeOption = () =>
  new Option("--store <dir>", "store folder (default: <root>/.sam2, or $SAM2_STORE)");

function strict(c: Command): Command {
  return c.allowExcessArguments(false).allowUnknownOption(false);
}

/** Registers `run`, `status`, `dag`, `explain` and `cache`. */
export function register(program: Command): void {
  strict(
    program.command("run")
      .description(
        "Run a pipeline: stages whose key is unchanged are skipped or restored from the cache",
      )
      .argument("<pipeline>", "pipeline file (YAML)")
      .option("--only <stage...>", "run only these stages (or NAME@ITEM), plus what they need")
      .option("--force [stage...]", "run these stages (all when none named) even when cached")
      .option("--dry-run", "say what would run or be restored; change nothing")
      .addOption(
        new Option("-j, --jobs <n>", "stages running at once").argParser(positiveInt)
          .default(RUN_DEFAULTS.jobs),
      )
      .addOption(varOption())
      .addOption(kindsOption())
      .addOption(storeOption())
      .option(
        "--no-wait",
        "refuse (instead of waiting) when another run of this pipeline holds its lock",
      )
      .option("--json", "print the summary as JSON on stdout"),
  ).action(runCommand);

  strict(
    program.command("status")
      .description("Say which stages are up to date, restorable from the cache, or stale, and why")
      .argument("<pipeline>", "pipeline file (YAML)")
      .addOption(varOption())
      .addOption(kindsOption())
      .addOption(storeOption())
      .option("--json", "print JSON"),
  ).action(
    async (
      file: string,
      o: { var: Record<string, string>; store?: string; json?: boolean; kinds?: string[] },
    ) => {
      const { pipelineStatus } = await engine<typeof import("../../pipeline/status.ts")>(
        "status.ts",
      );
      try {
        const st = await pipelineStatus(file, {
          vars: await typedVars(o.var),
          storeDir: o.store,
          registry: await registryFor(o.kinds),
        });
        if (o.json) console.log(JSON.stringify(st, null, 2));
        else {
          for (const s of st) {
            console.log(
              `${s.state.padEnd(10)} ${s.stage}${
                s.reasons.length ? `: ${s.reasons.join("; ")}` : ""
              }`,
            );
          }
        }
      } catch (e) {
        await report(e);
      }
    },
  );

  strict(
    program.command("dag")
      .description("Draw the stage graph (text, Mermaid or DOT)")
      .argument("<pipeline>", "pipeline file (YAML)")
      .addOption(
        new Option("--format <format>", "drawing format").choices(["text", "mermaid", "dot"])
          .default("text"),
      )
      .option("--mermaid", "same as --format mermaid")
      .option("--dot", "same as --format dot")
      .addOption(varOption())
      .addOption(kindsOption()),
  ).action(
    async (
      file: string,
      o: {
        format: "text" | "mermaid" | "dot";
        mermaid?: boolean;
        dot?: boolean;
        var: Record<string, string>;
        kinds?: string[];
      },
    ) => {
      const { loadPipeline } = await engine<typeof import("../../pipeline/load.ts")>("load.ts");
      const { renderDag } = await engine<typeof import("../../pipeline/dag.ts")>("dag.ts");
      try {
        const p = await loadPipeline(file, {
          registry: await registryFor(o.kinds),
          vars: await typedVars(o.var),
          checkInputs: false,
        });
        console.log(renderDag(p, o.mermaid ? "mermaid" : o.dot ? "dot" : o.format));
      } catch (e) {
        await report(e);
      }
    },
  );

  strict(
    program.command("explain")
      .description("Show each component of a stage's key: last run's value and the current one")
      .argument("<pipeline>", "pipeline file (YAML)")
      .argument("<stage>", "stage name (NAME@ITEM for one item of a foreach stage)")
      .addOption(varOption())
      .addOption(kindsOption())
      .addOption(storeOption())
      .option("--all", "also list unchanged components")
      .option("--json", "print JSON"),
  ).action(
    async (
      file: string,
      stage: string,
      o: {
        var: Record<string, string>;
        store?: string;
        json?: boolean;
        all?: boolean;
        kinds?: string[];
      },
    ) => {
      const { explainStage } = await engine<typeof import("../../pipeline/explain.ts")>(
        "explain.ts",
      );
      try {
        const x = await explainStage(file, stage, {
          vars: await typedVars(o.var),
          storeDir: o.store,
          registry: await registryFor(o.kinds),
        });
        if (o.json) {
          console.log(JSON.stringify(x, null, 2));
          return;
        }
        const short = (v: string | null) =>
          v === null ? "(none)" : v.length > 60 ? v.slice(0, 57) + "..." : v;
        console.log(
          `stage ${x.stage}: ${x.decision}${x.reasons.length ? ` (${x.reasons.join("; ")})` : ""}`,
        );
        console.log(`  key  last: ${short(x.keyBefore)}\n       now:  ${short(x.keyNow)}`);
        for (const r of x.rows) {
          if (!r.changed && !o.all) continue;
          console.log(
            `  ${r.changed ? "*" : " "} ${r.component}\n      last: ${
              short(r.before)
            }\n      now:  ${short(r.now)}`,
          );
        }
        if (!o.all) {
          const same = x.rows.filter((r) => !r.changed).length;
          console.log(`  (${same} unchanged component${same === 1 ? "" : "s"}; --all lists them)`);
        }
      } catch (e) {
        await report(e);
      }
    },
  );

  const cache = program.command("cache").description(
    "Inspect and clean the content-addressed store",
  );
  strict(cache);
  const openStore = async (dir?: string) => {
    const { Store } = await engine<typeof import("../../pipeline/store.ts")>("store.ts");
    const { findRoot } = await engine<typeof import("../../pipeline/spec.ts")>("spec.ts");
    const env = Deno.env.get("SAM2_STORE");
    const d = dir ?? env ?? `${findRoot(Deno.cwd())}/.sam2`;
    return new Store(d.startsWith("/") ? d : `${Deno.cwd()}/${d}`);
  };
  strict(
    cache.command("ls").description("List run entries (key, stage, date, size)").addOption(
      storeOption(),
    )
      .option("--json", "print JSON"),
  ).action(async (o: { store?: string; json?: boolean }) => {
    const store = await openStore(o.store);
    const rows = [];
    for await (const e of store.entries()) {
      const size = Object.values(e.outs).reduce((a, t) => a + t.size, 0);
      rows.push({
        key: e.key,
        stage: e.stage,
        pipeline: e.pipeline,
        createdAt: e.createdAt,
        size,
        pinned: !!e.pinned,
      });
    }
    rows.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    if (o.json) console.log(JSON.stringify(rows, null, 2));
    else {
      for (const r of rows) {
        console.log(
          `${r.key.slice(0, 16)}  ${r.createdAt}  ${
            String(r.size).padStart(12)
          } B  ${r.pipeline}/${r.stage}${r.pinned ? "  (pinned)" : ""}`,
        );
      }
      console.log(`${rows.length} entries in ${store.dir}`);
    }
  });
  strict(
    cache.command("gc").description("Delete entries and files no lock file references")
      .addOption(
        new Option("--keep-last <n>", "also keep what the last N runs used").argParser(positiveInt),
      )
      .option("--keep-newer <date>", "also keep entries created at or after this date (ISO 8601)")
      .option("--lock <file...>", "more lock files whose entries to keep")
      .option("--dry-run", "list what would be freed; delete nothing")
      .addOption(storeOption())
      .option("--json", "print JSON"),
  ).action(
    async (
      o: {
        keepLast?: number;
        keepNewer?: string;
        lock?: string[];
        dryRun?: boolean;
        store?: string;
        json?: boolean;
      },
    ) => {
      const { gcStore } = await engine<typeof import("../../pipeline/gc.ts")>("gc.ts");
      let keepNewer: Date | undefined;
      if (o.keepNewer) {
        keepNewer = new Date(o.keepNewer);
        if (Number.isNaN(keepNewer.getTime())) {
          console.error(
            `error: --keep-newer: cannot read "${o.keepNewer}" as a date (use e.g. 2026-11-25)`,
          );
          Deno.exit(2);
        }
      }
      const store = await openStore(o.store);
      const r = await gcStore(store, {
        keepLast: o.keepLast,
        keepNewer,
        lockFiles: o.lock?.map((f) => (f.startsWith("/") ? f : `${Deno.cwd()}/${f}`)),
        dryRun: o.dryRun,
      });
      if (o.json) console.log(JSON.stringify(r, null, 2));
      else {
        for (const e of r.entriesRemoved) {
          console.log(
            `${o.dryRun ? "would remove" : "removed"} ${
              e.key.slice(0, 16)
            } ${e.stage} (${e.createdAt})`,
          );
        }
        console.log(
          `${
            o.dryRun ? "would free" : "freed"
          } ${r.bytesFreed} bytes: ${r.entriesRemoved.length} entries, ${r.objectsRemoved} files; kept ${r.entriesKept} entries, ${r.objectsKept} files`,
        );
      }
    },
  );
  strict(
    cache.command("verify").description(
      "Rehash every stored file; delete corrupted ones so the next run re-creates them",
    )
      .option("--no-repair", "only report")
      .addOption(storeOption())
      .option("--json", "print JSON"),
  ).action(async (o: { repair: boolean; store?: string; json?: boolean }) => {
    const { verifyStore } = await engine<typeof import("../../pipeline/gc.ts")>("gc.ts");
    const store = await openStore(o.store);
    const r = await verifyStore(store, { repair: o.repair });
    if (o.json) console.log(JSON.stringify(r, null, 2));
    else {
      for (const c of r.corrupted) {
        console.log(`corrupted: ${c.hash} (content hashes to ${c.actual ?? "unreadable"})`);
      }
      for (const e of r.entriesDropped) {
        console.log(`${o.repair ? "dropped" : "broken"} entry ${e.key.slice(0, 16)} of ${e.stage}`);
      }
      console.log(
        `${r.objectsChecked} files (${r.bytesChecked} bytes) checked, ${r.corrupted.length} corrupted`,
      );
    }
    if (r.corrupted.length || r.entriesDropped.length) Deno.exitCode = 1;
  });
  for (const [name, pinned] of [["pin", true], ["unpin", false]] as const) {
    strict(
      cache.command(name).description(
        `${pinned ? "Keep" : "Stop keeping"} entries through gc (by key prefix or stage name)`,
      )
        .argument("<key>", "key prefix or stage name").addOption(storeOption()),
    ).action(async (key: string, o: { store?: string }) => {
      const { pinEntries } = await engine<typeof import("../../pipeline/gc.ts")>("gc.ts");
      const keys = await pinEntries(await openStore(o.store), key, pinned);
      if (!keys.length) {
        console.error(`error: no entry matches "${key}" (see: cache ls)`);
        Deno.exit(2);
      }
      for (const k of keys) console.log(`${name}ned ${k}`);
    });
  }
}
