/**
 * SAM2Train in eval mode with `pt_sampling_for_eval: center` (the reference's default): every
 * click request carries the method, and the seeded generator answers it with the error-center
 * click of the GT and our own prediction.
 */
import { fixtureBatch, loadMiniTrainModel } from "../../../src/cli/commands/parity_run.ts";
import {
  ForwardingTrainRandom,
  type HostPoints,
  type PointRequest,
  SAM2Train,
  sampleOnePointFromErrorCenter,
  SeededTrainRandom,
} from "../../../src/sam2/mod.ts";
import { loadModelConfig } from "../../../src/sam2/config/mod.ts";
import { initGpu } from "../../../src/gpu/mod.ts";
import { assert, assertEquals } from "../../assert.ts";
import { MINI } from "../_mini.ts";

const CONFIG = new URL("../../../configs/mini.yaml", import.meta.url).pathname;

/** Passes every call to a seeded generator and keeps each point request with its answer. */
class Spy extends ForwardingTrainRandom {
  readonly points: { req: PointRequest; pred: Uint8Array | null; out: HostPoints }[] = [];
  constructor() {
    super(new SeededTrainRandom(3));
  }
  override async samplePoints(req: PointRequest): Promise<HostPoints> {
    const pred = req.pred ? await req.pred() : null;
    const out = await this.inner.samplePoints({
      ...req,
      pred: pred && (() => Promise.resolve(pred)),
    });
    this.points.push({ req, pred, out });
    return out;
  }
}

Deno.test("SAM2Train in eval mode with pt_sampling_for_eval center asks for error-center clicks and gets them", async () => {
  await initGpu();
  const cfg = await loadModelConfig(CONFIG);
  const options = {
    ...cfg.trainerModelExtra!,
    pt_sampling_for_eval: "center" as const,
    prob_to_use_pt_input_for_eval: 1,
    prob_to_use_box_input_for_eval: 0,
    num_frames_to_correct_for_eval: 1,
    num_correction_pt_per_frame: 2,
  };
  const m = await loadMiniTrainModel(MINI.pathname, CONFIG, new SAM2Train(cfg.model, options));
  m.eval();
  const batch = await fixtureBatch(MINI.pathname, "train_step");
  const spy = new Spy();
  const out = await m.forward(batch, spy);
  // One click from the GT on the initial frame, then two corrections on it.
  assertEquals(spy.points.map((p) => [p.req.phase, p.req.method, p.pred === null]), [
    ["prepare_prompt_inputs", "center", true],
    ["correction", "center", false],
    ["correction", "center", false],
  ]);
  for (const { req, pred, out: got } of spy.points) {
    const want = sampleOnePointFromErrorCenter(req.gt, pred);
    assertEquals([...got.coords], [...want.coords]);
    assertEquals([...got.labels], [...want.labels]);
  }
  const f0 = out.frames[out.plan.initCondFrames[0]];
  assertEquals(f0.multistep.length, 3);
  assert(f0.multistepPointInputs[2]?.numPoints === 3, "three clicks accumulated");
  m.train();
});
