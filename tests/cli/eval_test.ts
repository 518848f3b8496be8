import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { runSam2 } from "./_sam2.ts";

const DAVIS = new URL("../../../shared/fixtures/davis2016/Annotations", import.meta.url).pathname;

const sam2 = (...args: string[]) => runSam2(args);

Deno.test("sam2 eval scores identical masks 100 and writes the report files", async () => {
  const out = await Deno.makeTempDir();
  try {
    const r = await sam2("eval", "--gt_root", DAVIS, "--pred_root", DAVIS, "--out", out, "--quiet");
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "J&F 100.0  J 100.0  F 100.0  (2 videos, 2 objects");
    for (const f of ["results.csv", "report.html", "report.md", "jf.json"]) {
      assert((await Deno.stat(`${out}/${f}`)).isFile, `${f} written`);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("sam2 eval names a missing folder and rejects unknown options", async () => {
  const missing = await sam2("eval", "--gt_root", "/no/such/dir", "--pred_root", DAVIS);
  assertEquals(missing.code, 1);
  assertStringIncludes(missing.stderr, '--gt_root "/no/such/dir" is not a folder');
  const unknown = await sam2("eval", "--gt_root", DAVIS, "--pred_root", DAVIS, "--bogus");
  assert(unknown.code !== 0);
  assertStringIncludes(unknown.stderr, "unknown option '--bogus'");
});
