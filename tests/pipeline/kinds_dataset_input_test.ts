/** How `train` and `eval` take a build-dataset manifest in place of data folders. */
import { assertEquals, assertThrows } from "../assert.ts";
import { evalFolders, type EvalParams } from "../../src/pipeline/kinds/eval.ts";
import { trainOverrides, type TrainParams } from "../../src/pipeline/kinds/train.ts";

const base: TrainParams = { config: "/p/c.yaml", overrides: ["scratch.num_epochs=2"] };
const folders = { frames: "/d/JPEGImages", annotations: "/d/Annotations" };

Deno.test("trainOverrides() sets the manifest's folders first; explicit folders and overrides win", () => {
  assertEquals(trainOverrides({ ...base, dataset: "/o/m.json" }, "/run", folders), [
    "dataset.img_folder=/d/JPEGImages",
    "dataset.gt_folder=/d/Annotations",
    "scratch.num_epochs=2",
    "launcher.experiment_log_dir=/run",
  ]);
  const explicit = trainOverrides({ ...base, img_folder: "/x" }, "/run", folders);
  // applied in order, so the later img_folder replaces the manifest's
  assertEquals(explicit.filter((o) => o.startsWith("dataset.img_folder=")), [
    "dataset.img_folder=/d/JPEGImages",
    "dataset.img_folder=/x",
  ]);
});

Deno.test("evalFolders() takes a DAVIS manifest's folders and refuses other formats", () => {
  const p = { checkpoint: "/c.pt", model_config: "/m.yaml", dataset: "/o/m.json" } as EvalParams;
  assertEquals(evalFolders(p, { format: "davis", ...folders }), {
    videoDir: "/d/JPEGImages",
    gtDir: "/d/Annotations",
  });
  assertEquals(evalFolders({ ...p, gt_dir: "/g" }, { format: "davis", ...folders }).gtDir, "/g");
  assertThrows(() => evalFolders(p, { format: "sav", ...folders }), Error, "DAVIS-style PNG");
  assertThrows(
    () => evalFolders({ checkpoint: "/c.pt", model_config: "/m.yaml" } as EvalParams),
    Error,
    "give `dataset`",
  );
});
