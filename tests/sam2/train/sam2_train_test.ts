/**
 * SAM2Train + MultiStepMultiMasksAndIous against the PyTorch reference: the three recorded
 * training steps of the sam2-mini fixture are replayed (every random decision from the JSON)
 * and every stored output, loss term and gradient is compared (`deno task parity` prints the
 * same rows one per tensor).
 */
import {
  formatParityRows,
  loadMiniTrainModel,
  type ParityRow,
  type ParityRun,
  trainStepParity,
} from "../../../src/cli/commands/parity.ts";
import type { SAM2Train } from "../../../src/sam2/mod.ts";
import { AssertionError } from "../../assert.ts";
import { MINI } from "../_mini.ts";

const CONFIG = new URL("../../../configs/mini.yaml", import.meta.url).pathname;

let model: Promise<SAM2Train> | undefined;
function miniTrainModel(): Promise<SAM2Train> {
  return model ??= loadMiniTrainModel(MINI.pathname, CONFIG);
}

function summary(run: string, rows: readonly ParityRow[]): string {
  const worst = (pre: string) => {
    const r = rows.filter((x) => x.name.startsWith(pre) && !x.exactZero);
    return `${r.length} ${pre.replace(/\.$/, "")} max ${
      Math.max(0, ...r.map((x) => x.relErr)).toExponential(2)
    }`;
  };
  return `${run}: ${worst("frame")}, ${worst("loss.")}, ${worst("grad.")} (rel to max)`;
}

async function check(run: ParityRun): Promise<void> {
  const rows = await trainStepParity(run, {
    fixtures: MINI.pathname,
    config: CONFIG,
    model: await miniTrainModel(),
  });
  console.log(summary(run, rows));
  const bad = rows.filter((r) => !r.ok);
  if (bad.length) {
    throw new AssertionError(`${bad.length} tensor(s) differ:\n${formatParityRows(run, bad)}`);
  }
}

Deno.test("SAM2Train replays train_step (clicks, 7 corrections on frames 0 and 1): outputs, losses and gradients match the reference", async () => {
  await check("train_step");
});

Deno.test("SAM2Train replays train_step_box (inverted box of an absent object on frame 2) and matches the reference", async () => {
  await check("train_step_box");
});

Deno.test("SAM2Train replays train_step_mask (mask input on frames 0 and 2) and matches the reference", async () => {
  await check("train_step_mask");
});
