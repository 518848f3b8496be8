import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { readLockFile } from "../../src/pipeline/mod.ts";
import { cli, run, statuses, tempProject } from "./_helpers.ts";

const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;

async function waitFor(path: string, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      await Deno.stat(path);
      return;
    } catch {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${path}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function spawnRun(dir: string, extra: string[] = []): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, "run", `${dir}/pipeline.yaml`, ...extra],
    cwd: dir,
    env: { CI: "true", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

// "slow" is not an input: while it exists, stage b blocks (and says so through "started").
const PIPE = `stages:
  a:
    run: echo a > \${outs.o}
    outs:
      o: out/a.txt
  b:
    run: echo $$ > started; while [ -f slow ]; do sleep 0.05; done; cat \${stages.a.outs.o} > \${outs.o}
    outs:
      o: out/b.txt
`;

Deno.test("kill -9 of a running pipeline leaves nothing marked valid; the re-run redoes exactly that stage", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE, slow: "" });
  let shellPid = 0;
  try {
    const child = spawnRun(dir);
    await waitFor(`${dir}/started`);
    shellPid = Number((await Deno.readTextFile(`${dir}/started`)).trim());
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel();
    const lock = await readLockFile(`${dir}/pipeline.lock`, "");
    assertEquals(Object.keys(lock.stages), ["a"], "only the completed stage is recorded");
    let bExists = true;
    try {
      await Deno.stat(`${dir}/out/b.txt`);
    } catch {
      bExists = false;
    }
    assertEquals(bExists, false, "no half-written output in the workspace");
    await Deno.remove(`${dir}/slow`);
    // the dead run's lock is recovered (no waiting), its staging folder cleaned
    const s = await run(dir, { wait: false });
    assertEquals(statuses(s), { a: "up-to-date", b: "ran" });
    assertEquals(await Deno.readTextFile(`${dir}/out/b.txt`), "a\n");
    const tmp = [...Deno.readDirSync(`${dir}/.sam2/tmp`)];
    assertEquals(tmp.length, 0, `staging left behind: ${tmp.map((e) => e.name)}`);
  } finally {
    if (shellPid) {
      try {
        Deno.kill(shellPid, "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second run of the same pipeline waits for the first (or refuses with --no-wait)", async () => {
  const dir = await tempProject({ "pipeline.yaml": PIPE, slow: "" });
  try {
    const first = spawnRun(dir);
    await waitFor(`${dir}/started`);
    const refused = await cli(["run", `${dir}/pipeline.yaml`, "--no-wait"], { cwd: dir });
    assertEquals(refused.code, 3);
    assertStringIncludes(refused.stderr, "is being run by pid");
    assertStringIncludes(refused.stderr, "without --no-wait");
    const second = spawnRun(dir);
    // read the second run's stderr until it says it waits, then let the first finish
    const dec = new TextDecoder();
    let err2 = "";
    const reader = second.stderr.getReader();
    while (!err2.includes("waiting for it to finish")) {
      const { value, done } = await reader.read();
      if (done) break;
      err2 += dec.decode(value);
    }
    assertStringIncludes(err2, "waiting for it to finish");
    await Deno.remove(`${dir}/slow`);
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        err2 += dec.decode(value);
      }
    })();
    const [o1, st2, out2] = await Promise.all([
      first.output(),
      second.status,
      new Response(second.stdout).text(),
      pump,
    ]);
    assertEquals(o1.code, 0, dec.decode(o1.stderr));
    assertEquals(st2.code, 0, err2);
    assertStringIncludes(out2, "0 ran, 0 restored from cache, 2 up to date");
    assert(dec.decode(o1.stdout).includes("2 ran"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
