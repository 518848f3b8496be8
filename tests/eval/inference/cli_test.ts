import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";
import { MINI, MINI_CONFIG, writeRectVideo } from "./_dataset.ts";
import { runSam2 } from "../../cli/_sam2.ts";

const sam2 = (...args: string[]) => runSam2(args);

Deno.test("sam2 eval --checkpoint ... predicts with vos_inference's flags, then scores with --gt_root", async () => {
  const root = await Deno.makeTempDir({ prefix: "vos_cli_" });
  try {
    await writeRectVideo(root, "bands", 2, 64);
    await Deno.writeTextFile(`${root}/list.txt`, "bands\n\n");
    const r = await sam2(
      "eval",
      "--checkpoint",
      MINI,
      "--model-config",
      MINI_CONFIG,
      "--base_video_dir",
      `${root}/JPEGImages`,
      "--input_mask_dir",
      `${root}/Annotations`,
      "--output_mask_dir",
      `${root}/pred`,
      "--video_list_file",
      `${root}/list.txt`,
      "--gt_root",
      `${root}/Annotations`,
      "--do_not_skip_first_and_last_frame",
      "--quiet",
    );
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "predicted 2 frames of 1 videos");
    assertStringIncludes(r.stdout, "J&F 100.0  J 100.0  F 100.0  (1 videos, 2 objects");
    for (const f of ["00000.png", "00001.png"]) {
      assert((await Deno.stat(`${root}/pred/bands/${f}`)).isFile, `${f} written`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("sam2 eval names missing prediction flags and a missing checkpoint", async () => {
  const root = await Deno.makeTempDir({ prefix: "vos_cli_" });
  try {
    await Deno.mkdir(`${root}/v`);
    const partial = await sam2("eval", "--checkpoint", MINI, "--output_mask_dir", `${root}/p`);
    assertEquals(partial.code, 1);
    assertStringIncludes(
      partial.stderr,
      "Predicting masks needs --model-config, --base_video_dir, --input_mask_dir as well",
    );
    const ck = await sam2(
      "eval",
      ...["--checkpoint", `${root}/none.pt`, "--model-config", MINI_CONFIG],
      ...["--base_video_dir", `${root}/v`, "--input_mask_dir", `${root}/v`],
      ...["--output_mask_dir", `${root}/p`],
    );
    assertEquals(ck.code, 1);
    assertStringIncludes(ck.stderr, `Checkpoint "${root}/none.pt" does not exist`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
