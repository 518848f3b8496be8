/**
 * The parity checks behind `sam2 parity` (loaded only when that command runs): replays the sam2-mini fixture's recorded training steps (`train_step`,
 * `train_step_box`, `train_step_mask`) through `SAM2Train` and `MultiStepMultiMasksAndIous`
 * and compares every stored output, each loss term and every stored gradient with the PyTorch
 * reference, printing each tensor's max error relative to the reference's max |value|.
 *
 * @example
 * ```sh
 * deno task parity                      # all three runs, exits 1 on any miss
 * deno task parity --run train_step_box
 * ```
 */
import { resolve } from "node:path";
import {
  loadPt,
  loadSafetensors,
  selectStateDict,
  type StateDict,
  toFloat32,
  typedView,
} from "../../checkpoint/mod.ts";
import { initGpu } from "../../gpu/mod.ts";
import type { StateValue } from "../../nn/mod.ts";
import {
  ForwardingTrainRandom,
  type GpuVideoBatch,
  type HostPoints,
  loadModelConfig,
  type PointRequest,
  ReplayTrainRandom,
  SAM2Base,
  SAM2Train,
  type TrainRandomRecording,
} from "../../sam2/mod.ts";
import { type Tensor, tensor, zeros } from "../../tensor/mod.ts";
import { MultiStepMultiMasksAndIous } from "../../train/loss/mod.ts";

/** The recorded runs of the fixture. */
export const PARITY_RUNS = ["train_step", "train_step_box", "train_step_mask"] as const;
/** One recorded run. */
export type ParityRun = typeof PARITY_RUNS[number];

/**
 * Key biases of the SAM two-way transformer's (RoPE-free) attentions: their exact gradient is 0.
 */
const ZERO_BY_MATH = /^sam_mask_decoder\.transformer\..*k_proj\.bias$/;

/** One compared tensor. */
export interface ParityRow {
  /** The fixture's tensor name (`frame1.step3.pred_ious`, `loss.core_loss`, `grad.<param>`). */
  name: string;
  /** max |ours - ref| / max |ref| (the absolute error when the reference is all zeros). */
  relErr: number;
  ok: boolean;
  /** Why it failed (shape, missing, labels), or how it was compared when not as usual. */
  note?: string;
  /** A gradient that is exactly 0 in exact arithmetic (compared in absolute terms). */
  exactZero?: boolean;
}

/** Options of `trainStepParity`. */
export interface TrainStepParityOptions {
  /** The sam2-mini fixture folder. */
  fixtures: string;
  /** configs/mini.yaml. */
  config: string;
  /** A model to reuse (its weights are reloaded from the fixture's model.pt). */
  model?: SAM2Train;
  /** Forward outputs: |a-b| <= fwdTol·(1 + max|ref|). @default 1e-4 */
  fwdTol?: number;
  /** Loss terms: |a-b| <= lossTol·|ref|. @default 1e-4 */
  lossTol?: number;
  /** Gradients: |a-b| <= gradTol·max|ref|. @default 1e-3 */
  gradTol?: number;
  /** Also compare the gradients (a backward pass). @default true */
  gradients?: boolean;
}

/** The loaded mini model with the fixture's weights, in train mode. */
export async function loadMiniTrainModel(
  fixtures: string,
  config: string,
  model?: SAM2Train,
): Promise<SAM2Train> {
  await initGpu();
  const cfg = await loadModelConfig(config);
  if (!cfg.trainerModelExtra) throw new Error(`${config}: no trainer_model_extra section`);
  const m = model ?? new SAM2Train(cfg.model, cfg.trainerModelExtra);
  const sd = selectStateDict(await loadPt(resolve(fixtures, "model.pt"), { path: ["model"] }));
  const values = new Map<string, StateValue>();
  for (const [k, t] of sd) values.set(k, { shape: t.shape, data: toFloat32(t) });
  m.loadStateDict(values);
  m.zeroGrad();
  m.train();
  return m;
}

/**
 * Compares `ours` with the reference `ref` element by element: the row's `relErr` is
 * max |ours - ref| / max |ref| (the absolute error when ref is all zeros) and it is ok when
 * max |ours - ref| <= tol(max |ref|). A miss names the worst element and both values. The one
 * comparison of `sam2 parity` and of the sam2 parity tests.
 */
export function compareArrays(
  name: string,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  tol: (mag: number) => number,
): ParityRow {
  if (a.length !== b.length) {
    return { name, relErr: Infinity, ok: false, note: `size ${a.length} vs ${b.length}` };
  }
  let mag = 0, worst = 0, at = -1;
  for (let i = 0; i < b.length; i++) mag = Math.max(mag, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (e > worst || Number.isNaN(e)) [worst, at] = [e, i];
    if (Number.isNaN(e)) break; // a NaN is the worst there is: later elements must not hide it
  }
  const relErr = mag === 0 ? worst : worst / mag;
  const allowed = tol(mag);
  if (worst <= allowed) return { name, relErr, ok: true };
  const note = `max abs error ${worst} at ${at} (ours=${a[at]} | ref=${b[at]}), allowed ${allowed}`;
  return { name, relErr, ok: false, note };
}

/**
 * {@link compareArrays} of our tensor with the fixture tensor of the same name, after checking
 * that both exist and have the same shape.
 */
export async function compareTensor(
  ref: StateDict,
  name: string,
  ours: Tensor | null | undefined,
  tol: (mag: number) => number,
): Promise<ParityRow> {
  const r = ref.get(name);
  if (!r) return { name, relErr: NaN, ok: false, note: "not in the fixture" };
  if (!ours) return { name, relErr: NaN, ok: false, note: "we have no such tensor" };
  if (ours.shape.join(",") !== r.shape.join(",")) {
    return { name, relErr: NaN, ok: false, note: `shape ours=[${ours.shape}] | ref=[${r.shape}]` };
  }
  return compareArrays(name, (await ours.toArray()) as ArrayLike<number>, toFloat32(r), tol);
}

function fixtureTensor(sd: StateDict, key: string, file: string) {
  const t = sd.get(key);
  if (!t) throw new Error(`${file}: tensor "${key}" is missing`);
  return t;
}

/**
 * The clip of a recorded run as a `GpuVideoBatch` (the video is stored once, in
 * train_step.safetensors).
 */
export async function fixtureBatch(
  fixtures: string,
  run: ParityRun,
  tensors?: StateDict,
): Promise<GpuVideoBatch> {
  const file = resolve(fixtures, `${run}.safetensors`);
  const ref = tensors ?? await loadSafetensors(file);
  const inputs = run === "train_step"
    ? ref
    : await loadSafetensors(resolve(fixtures, "train_step.safetensors"));
  const img = fixtureTensor(inputs, "input.img_batch", "train_step.safetensors");
  const masks = fixtureTensor(ref, "input.masks", file);
  return {
    imgBatch: tensor(toFloat32(img), img.shape),
    masks: Uint8Array.from(typedView(masks) as ArrayLike<number>),
    objToFrameIdx: Int32Array.from(
      typedView(fixtureTensor(ref, "input.obj_to_frame_idx", file)) as ArrayLike<number>,
    ),
    numObjects: masks.shape[1],
  };
}

/**
 * Replays one recorded run and compares outputs, losses and gradients. The replay checks that
 * every random decision is asked for in the recorded order.
 */
export async function trainStepParity(
  run: ParityRun,
  opts: TrainStepParityOptions,
): Promise<ParityRow[]> {
  const fwdTol = opts.fwdTol ?? 1e-4, lossTol = opts.lossTol ?? 1e-4;
  const gradTol = opts.gradTol ?? 1e-3;
  const fwd = (mag: number) => fwdTol + fwdTol * mag;
  const model = await loadMiniTrainModel(opts.fixtures, opts.config, opts.model);
  const file = resolve(opts.fixtures, `${run}.safetensors`);
  const ref = await loadSafetensors(file);
  const rec = JSON.parse(await Deno.readTextFile(resolve(opts.fixtures, `${run}.json`))) as
    & TrainRandomRecording
    & { init_cond_frames: number[]; frames_to_add_correction_pt: number[] };
  const batch = await fixtureBatch(opts.fixtures, run, ref);
  const [t, o, h, w] = [
    batch.imgBatch.shape[0],
    batch.numObjects,
    ...batch.imgBatch.shape.slice(3),
  ];
  const replay = new ReplayTrainRandom(rec);
  const clicks: ParityRow[] = [];
  const out = await model.forward(batch, new ClickCheckingReplay(replay, clicks));
  replay.assertExhausted();
  const rows: ParityRow[] = [...clicks];
  const same = (a: number[], b: number[]) => a.join(",") === b.join(",");
  rows.push({
    name: "plan.init_cond_frames/frames_to_add_correction_pt",
    relErr: 0,
    ok: same(out.plan.initCondFrames, rec.init_cond_frames) &&
      same(out.plan.framesToAddCorrectionPt, rec.frames_to_add_correction_pt),
  });
  for (let f = 0; f < t; f++) {
    const fr = out.frames[f];
    for (let s = 0; s < fr.multistep.length; s++) {
      const p = `frame${f}.step${s}.`, st = fr.multistep[s];
      rows.push(await compareTensor(ref, p + "pred_multimasks", st.lowResMultimasks, fwd));
      if (ref.has(p + "pred_multimasks_high_res")) {
        rows.push(
          await compareTensor(ref, p + "pred_multimasks_high_res", st.highResMultimasks, fwd),
        );
      }
      rows.push(await compareTensor(ref, p + "pred_ious", st.ious, fwd));
      rows.push(await compareTensor(ref, p + "object_score_logits", st.objectScoreLogits, fwd));
      const pts = fr.multistepPointInputs[s];
      const rc = ref.get(p + "point_coords"), rl = ref.get(p + "point_labels");
      if (rc && rl && pts) {
        rows.push(compareArrays(p + "point_coords", pts.coords, toFloat32(rc), fwd));
        const labelsOk = same([...pts.labels], [...(typedView(rl) as Int32Array)]);
        rows.push({ name: p + "point_labels", relErr: labelsOk ? 0 : 1, ok: labelsOk });
      } else if (rc || pts) {
        rows.push({
          name: p + "point_coords",
          relErr: NaN,
          ok: false,
          note: rc ? "we had no points" : "the reference had no points",
        });
      }
    }
    const p = `frame${f}.`;
    rows.push(await compareTensor(ref, p + "pred_masks", fr.predMasks, fwd));
    rows.push(await compareTensor(ref, p + "obj_ptr", fr.objPtr, fwd));
    rows.push(await compareTensor(ref, p + "maskmem_features", fr.maskmemFeatures, fwd));
    rows.push(await compareTensor(ref, p + "maskmem_pos_enc", fr.maskmemPosEnc?.at(-1), fwd));
  }
  const cfg = await loadModelConfig(opts.config);
  if (!cfg.loss) throw new Error(`${opts.config}: no loss section`);
  const targets = Array.from({ length: t }, (_, f) => ({
    data: batch.masks.subarray(f * o * h * w, (f + 1) * o * h * w),
    numObjects: o,
    height: h,
    width: w,
  }));
  const losses = new MultiStepMultiMasksAndIous(cfg.loss).forward(out.frames, targets);
  for (const k of ["loss_mask", "loss_dice", "loss_iou", "loss_class", "core_loss"] as const) {
    rows.push(await compareTensor(ref, `loss.${k}`, losses[k], (mag) => lossTol * mag));
  }
  if (opts.gradients ?? true) {
    losses.core_loss.backward();
    const params = new Map(model.namedParameters());
    for (const name of ref.keys()) {
      if (!name.startsWith("grad.")) continue;
      const pname = name.slice(5), param = params.get(pname);
      if (!param) {
        rows.push({ name, relErr: NaN, ok: false, note: "no such parameter" });
        continue;
      }
      // No gradient at all is a zero gradient (torch.where routes zeros to unused embeddings).
      const grad = param.grad ?? zeros(param.shape);
      let tol = (mag: number) => (mag === 0 ? 1e-7 : gradTol * mag);
      let note: string | undefined;
      if (ZERO_BY_MATH.test(pname)) {
        // Softmax is invariant to a per-query shift, so the key bias of a plain attention has
        // an exact gradient of 0: both sides hold rounding noise. Checked against the scale of
        // the same projection's weight gradient instead of its own (noise) maximum.
        // The compact runs do not store that weight gradient: use ours (compared elsewhere).
        const wname = pname.replace(/bias$/, "weight");
        const wref = ref.get(`grad.${wname}`);
        const wg = wref ? toFloat32(wref) : (await params.get(wname)?.grad?.toArray()) ?? [];
        const scale = Math.max(0, ...Array.from(wg as ArrayLike<number>, Math.abs));
        tol = () => 1e-5 * scale;
        note = `exact gradient 0 (softmax shift invariance); abs error vs 1e-5 x ${
          scale.toExponential(2)
        }`;
      }
      const row = await compareTensor(ref, name, grad, tol);
      rows.push(note ? { ...row, note, exactZero: true } : row);
      if (!param.grad) grad.dispose();
    }
    const without = (rec as unknown as { params_without_grad: string[] }).params_without_grad;
    for (const name of without) {
      const g = params.get(name)?.grad;
      let zero = true;
      if (g) zero = Array.from((await g.toArray()) as ArrayLike<number>).every((x) => x === 0);
      rows.push({
        name: `nograd.${name}`,
        relErr: 0,
        ok: zero,
        note: zero ? undefined : "the reference has no gradient here, we have a non-zero one",
      });
    }
    model.zeroGrad();
  }
  return rows;
}

/**
 * Replays a recording and, for each correction click sampled from the errors, checks it against
 * our own prediction: a positive click must fall where the GT is on and our `high_res_masks > 0`
 * is off, a negative one where our prediction is wrongly on (or on the background when it is
 * exactly right). This exercises the prediction read-back the seeded sampler uses.
 */
class ClickCheckingReplay extends ForwardingTrainRandom {
  #n = 0;
  constructor(inner: ReplayTrainRandom, readonly rows: ParityRow[]) {
    super(inner);
  }
  override async samplePoints(req: PointRequest): Promise<HostPoints> {
    const pts = await this.inner.samplePoints(req);
    const index = this.#n++;
    if (!req.pred) return pts;
    const pred = await req.pred();
    const { data: gt, height: h, width: w, numObjects: o } = req.gt;
    const bad: string[] = [];
    for (let b = 0; b < o; b++) {
      const x = pts.coords[2 * b], y = pts.coords[2 * b + 1], label = pts.labels[b];
      const base = b * h * w, i = base + y * w + x;
      let exact = true;
      for (let j = base; j < base + h * w && exact; j++) if (gt[j] !== pred[j]) exact = false;
      const ok = label === 1
        ? gt[i] === 1 && pred[i] === 0
        : gt[i] === 0 && (pred[i] === 1 || exact);
      if (!ok) bad.push(`object ${b} (${x},${y}) label ${label}: gt ${gt[i]}, ours ${pred[i]}`);
    }
    this.rows.push({
      name: `click${index}.frame${req.frame}`,
      relErr: bad.length ? 1 : 0,
      ok: bad.length === 0,
      note: bad.length ? `recorded click outside our error region: ${bad.join("; ")}` : undefined,
    });
    return pts;
  }
}

/** Formats rows as aligned lines, misses marked. */
export function formatParityRows(run: string, rows: readonly ParityRow[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  return rows.map((r) =>
    `${run}  ${r.name.padEnd(width)}  ${
      Number.isFinite(r.relErr) ? r.relErr.toExponential(2) : r.relErr
    }` +
    `${r.ok ? "" : "  MISS"}${r.note ? `  (${r.note})` : ""}`
  ).join("\n");
}

/**
 * The image encoder on the fixture's two images: every trunk block, stage, neck level and PE,
 * then `forwardImage` (levels 0 and 1 projected by conv_s0 / conv_s1). Tolerance
 * |a-b| <= tol·(1 + max|ref|).
 */
export async function imageEncoderParity(
  model: SAM2Base,
  fixtures: string,
  tol = 1e-4,
): Promise<ParityRow[]> {
  const file = resolve(fixtures, "image_encoder.safetensors");
  const ref = await loadSafetensors(file);
  const input = fixtureTensor(ref, "input.image", file);
  const taps: [string, Tensor][] = [];
  const wasTraining = model.training;
  model.eval();
  const enc = model.image_encoder;
  const x = tensor(toFloat32(input), input.shape);
  const feats = enc.trunk.forward(x, {
    patchEmbed: (t) => taps.push(["trunk.patch_embed", t]),
    posEmbed: (t) => taps.push(["trunk.pos_embed", t]),
    block: (i, t) => taps.push([`trunk.block${i}`, t]),
  });
  feats.forEach((f, i) => taps.push([`trunk.stage${i}`, f]));
  const neck = enc.neck.forward(feats);
  neck.features.forEach((f, i) => taps.push([`neck.backbone_fpn.${i}`, f]));
  const out = model.forwardImage(x);
  out.backbone_fpn.forEach((f, i) => taps.push([`backbone_fpn.${i}`, f]));
  out.vision_pos_enc.forEach((p, i) => taps.push([`vision_pos_enc.${i}`, p]));
  taps.push(["vision_features", out.vision_features]);
  const rows: ParityRow[] = [];
  for (const [name, t] of taps) {
    rows.push(await compareTensor(ref, name, t, (mag) => tol * (1 + mag)));
  }
  model.train(wasTraining);
  return rows;
}

/**
 * The SAM heads on the fixture's three prompt calls (points, box, point + mask): first the
 * prompt encoder and the mask decoder on their own (dense PE, sparse/dense prompt embeddings,
 * decoder masks, IoUs, tokens, object scores), then the whole of `_forward_sam_heads` (gating,
 * best-IoU pick, object pointer). Tolerance |a-b| <= tol·(1 + max|ref|).
 */
export async function samHeadsParity(
  model: SAM2Base,
  fixtures: string,
  tol = 1e-4,
): Promise<ParityRow[]> {
  const file = resolve(fixtures, "sam_heads.safetensors");
  const ref = await loadSafetensors(file);
  const t = (k: string) => {
    const h = fixtureTensor(ref, k, file);
    return tensor(toFloat32(h), h.shape);
  };
  const wasTraining = model.training;
  model.eval();
  const rows: ParityRow[] = [];
  const compare = async (pairs: [string, Tensor][]) => {
    for (const [k, v] of pairs) rows.push(await compareTensor(ref, k, v, (m) => tol * (1 + m)));
  };
  const pe = model.sam_prompt_encoder, dec = model.sam_mask_decoder;
  await compare([["image_pe", pe.getDensePe()]]);
  const calls = [["points", true, false], ["box", false, false], ["point_and_mask", false, true]];
  for (const [call, multimask, mask] of calls as [string, boolean, boolean][]) {
    const labels = typedView(fixtureTensor(ref, `${call}.in.point_labels`, file)) as Int32Array;
    const pointInputs = { coords: t(`${call}.in.point_coords`), labels: Int32Array.from(labels) };
    const maskInputs = mask ? t(`${call}.in.mask_inputs`) : null;
    const highResFeatures: [Tensor, Tensor] = [t("high_res_features.0"), t("high_res_features.1")];
    const { sparse, dense } = pe.forward(pointInputs, maskInputs, 1);
    const d = dec.forward({
      imageEmbeddings: t("pix_feat_with_mem"),
      imagePe: pe.getDensePe(),
      sparsePromptEmbeddings: sparse,
      densePromptEmbeddings: dense,
      multimaskOutput: multimask,
      repeatImage: false,
      highResFeatures,
    });
    const out = model.forwardSamHeads(t("pix_feat_with_mem"), {
      pointInputs,
      maskInputs,
      highResFeatures,
      multimaskOutput: multimask,
    });
    await compare([
      [`${call}.prompt.sparse_embeddings`, sparse],
      [`${call}.prompt.dense_embeddings`, dense],
      [`${call}.decoder.masks`, d.masks],
      [`${call}.decoder.iou_pred`, d.iouPred],
      [`${call}.decoder.sam_tokens_out`, d.samTokensOut],
      [`${call}.decoder.object_score_logits`, d.objectScoreLogits],
      [`${call}.low_res_multimasks`, out.lowResMultimasks],
      [`${call}.high_res_multimasks`, out.highResMultimasks],
      [`${call}.ious`, out.ious],
      [`${call}.low_res_masks`, out.lowResMasks],
      [`${call}.high_res_masks`, out.highResMasks],
      [`${call}.obj_ptr`, out.objPtr],
      [`${call}.object_score_logits`, out.objectScoreLogits],
    ]);
  }
  model.train(wasTraining);
  return rows;
}

/**
 * Our state-dict key list (names, shapes, order) against the reference's for a config, as one
 * row: built with the released config, so the big sizes take a while on a CPU adapter.
 */
export async function keyListParity(
  fixtures: string,
  name: string,
  config: string,
): Promise<ParityRow> {
  await initGpu();
  const ref = JSON.parse(await Deno.readTextFile(resolve(fixtures, "keys", `${name}.json`))) as {
    keys: [string, number[], number][];
    total_parameters: number;
  };
  const cfg = await loadModelConfig(config);
  const m = new SAM2Base(cfg.model);
  try {
    const ours = [...m.stateDict()].map(([k, v]) => `${k} [${v.shape}]`);
    const theirs = ref.keys.map(([k, s]) => `${k} [${s}]`);
    const missing = theirs.filter((k) => !ours.includes(k));
    const extra = ours.filter((k) => !theirs.includes(k));
    const sameOrder = ours.join("|") === theirs.join("|");
    const params = m.numParameters();
    const ok = missing.length === 0 && extra.length === 0 && sameOrder &&
      params === ref.total_parameters;
    const note = ok
      ? `${ours.length} keys, ${(params / 1e6).toFixed(2)}M parameters`
      : `missing ${missing.slice(0, 3).join(", ")}; extra ${extra.slice(0, 3).join(", ")}; ` +
        `order ${sameOrder ? "same" : "differs"}; params ${params} vs ${ref.total_parameters}`;
    return { name: `keys.${name}`, relErr: ok ? 0 : NaN, ok, note };
  } finally {
    m.dispose();
  }
}
