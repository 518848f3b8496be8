import { assertEquals } from "../assert.ts";

const SRC = new URL("../../src/", import.meta.url).href;

// The collector only runs on demand with --expose-gc, which is a process flag: a child runs it.
Deno.test("gcReleasedBytes() counts what the collector returns from a tensor never disposed", async () => {
  const script = `
    import { gpu, initGpu } from "${SRC}gpu/mod.ts";
    import * as T from "${SRC}tensor/mod.ts";
    await initGpu();
    const live = () => gpu().pool.stats().liveBytes;
    const before = live(), released = T.gcReleasedBytes();
    (() => { T.zeros([1024]); })(); // 4 KiB, never disposed
    const kept = T.zeros([256]);
    const leaked = live() - before - 1024;
    const accountedBefore = live() + T.gcReleasedBytes();
    for (let i = 0; i < 20 && T.gcReleasedBytes() === released; i++) {
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    console.log(JSON.stringify({
      leaked,
      released: T.gcReleasedBytes() - released,
      accountedChange: live() + T.gcReleasedBytes() - accountedBefore,
      keptAlive: !kept.disposed,
    }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const r = JSON.parse(lines.at(-1)!);
  assertEquals(r.released, r.leaked, "the leaked tensor's buffer came back through the collector");
  assertEquals(r.leaked, 4096);
  assertEquals(r.accountedChange, 0, "live + released is the same whenever the collector runs");
  assertEquals(r.keptAlive, true);
});
