import { gt, indexSelect, type Tensor, tensor, tidy } from "../../tensor/mod.ts";
import type { SAM2BaseConfig, SAM2TrainOptions } from "../config/mod.ts";
import {
  type BackboneFeatures,
  type FrameOutput,
  frameOutputOf,
  type OutputDict,
  SAM2Base,
  type SamHeadsOutput,
} from "../sam2_base.ts";
import type { PointPrompt } from "../sam/prompt_encoder.ts";
import type { HostPoints, MaskBatch, PointSamplingMethod, TrainRandom } from "./train_random.ts";

/**
 * A batch of clips as the training data loader delivers it (training/utils/data_utils.py
 * `BatchedVideoDatapoint`): frames stay on the GPU, masks and indices on the host (they drive
 * the prompt simulation).
 */
export interface GpuVideoBatch {
  /** [T, V, 3, H, W] frames of V videos. */
  imgBatch: Tensor;
  /** [T, O, H, W] row-major 0/1 ground truth, O objects over all videos. */
  masks: Uint8Array;
  /** [T, O, 2] row-major (frame index, video index) of each object. */
  objToFrameIdx: Int32Array;
  /** O. */
  numObjects: number;
}

/** Where prompts go on a clip (`prepare_prompt_inputs`). */
export interface PromptPlan {
  usePtInput: boolean;
  initCondFrames: number[];
  framesNotInInitCond: number[];
  framesToAddCorrectionPt: number[];
  /** Frames whose GT mask is the input. */
  maskInputFrames: number[];
  /** Initial click or box per frame, on the host. */
  pointInputsPerFrame: Map<number, HostPoints>;
}

/** One frame's training output: the tracking state plus every prediction step. */
export interface TrainFrameOutput extends FrameOutput {
  /** Step 0 is the first prediction, then one per correction click. */
  multistep: SamHeadsOutput[];
  /** The (accumulated) point prompt of each step; null where a step had none. */
  multistepPointInputs: (HostPoints | null)[];
}

/** The result of `SAM2Train.forward`. */
export interface TrainForwardOutput {
  /** Per frame in time order. */
  frames: TrainFrameOutput[];
  plan: PromptPlan;
  /** Frames in the order they were processed. */
  processingOrder: number[];
}

/** Clip geometry and one frame's GT as a mask batch. */
function frameGt(batch: GpuVideoBatch, t: number): MaskBatch {
  const [, , , h, w] = batch.imgBatch.shape;
  const o = batch.numObjects, n = o * h * w;
  return { data: batch.masks.subarray(t * n, (t + 1) * n), numObjects: o, height: h, width: w };
}

/** Appends one new point per object to a host prompt (`concat_points`). */
export function concatHostPoints(old: HostPoints | null, add: HostPoints): HostPoints {
  if (!old) return add;
  if (old.numObjects !== add.numObjects) throw new RangeError("concat: object counts differ");
  const o = old.numObjects, n = old.numPoints + add.numPoints;
  const coords = new Float32Array(o * n * 2), labels = new Int32Array(o * n);
  for (let b = 0; b < o; b++) {
    coords.set(old.coords.subarray(b * old.numPoints * 2, (b + 1) * old.numPoints * 2), b * n * 2);
    coords.set(
      add.coords.subarray(b * add.numPoints * 2, (b + 1) * add.numPoints * 2),
      (b * n + old.numPoints) * 2,
    );
    labels.set(old.labels.subarray(b * old.numPoints, (b + 1) * old.numPoints), b * n);
    labels.set(
      add.labels.subarray(b * add.numPoints, (b + 1) * add.numPoints),
      b * n + old.numPoints,
    );
  }
  return { coords, labels, numObjects: o, numPoints: n };
}

/** A host prompt as the SAM heads take it. */
export function toPointPrompt(p: HostPoints | null): PointPrompt | null {
  if (!p) return null;
  return { coords: tensor(p.coords, [p.numObjects, p.numPoints, 2]), labels: p.labels };
}

/**
 * `SAM2Train` (training/model/sam2.py): SAM2Base plus the training-time prompt simulation —
 * mask, click or noisy-box prompts on 1–N initial conditioning frames, iterative correction
 * clicks sampled from the prediction errors (or the GT), corrected frames promoted to
 * conditioning frames — and tracking of every object through the clip with gradients through
 * all frames. Every random decision goes through the `TrainRandom` given to `forward`.
 */
export class SAM2Train extends SAM2Base {
  constructor(config: SAM2BaseConfig, readonly trainOptions: SAM2TrainOptions) {
    super(config);
    const o = trainOptions;
    if (o.prob_to_use_pt_input_for_train > 0 || o.prob_to_use_pt_input_for_eval > 0) {
      if (o.num_frames_to_correct_for_train < o.num_init_cond_frames_for_train) {
        throw new RangeError(
          "num_frames_to_correct_for_train must be >= num_init_cond_frames_for_train",
        );
      }
      if (o.num_frames_to_correct_for_eval < o.num_init_cond_frames_for_eval) {
        throw new RangeError(
          "num_frames_to_correct_for_eval must be >= num_init_cond_frames_for_eval",
        );
      }
    }
    if (o.freeze_image_encoder) this.image_encoder.requiresGrad(false);
  }

  /**
   * The training forward: backbone once over all frames, prompts, then tracking. Returns every
   * frame's outputs (the loss input) in time order.
   */
  async forward(batch: GpuVideoBatch, rand: TrainRandom): Promise<TrainForwardOutput> {
    const [t, v] = batch.imgBatch.shape;
    if (batch.objToFrameIdx.length !== t * batch.numObjects * 2) {
      throw new RangeError(
        `SAM2Train: objToFrameIdx has ${batch.objToFrameIdx.length} entries, expected [${t}, ${batch.numObjects}, 2]`,
      );
    }
    const [, , c, h, w] = batch.imgBatch.shape;
    if (batch.masks.length !== t * batch.numObjects * h * w) {
      throw new RangeError(
        `SAM2Train: masks have ${batch.masks.length} entries, expected [${t}, ${batch.numObjects}, ${h}, ${w}]`,
      );
    }
    const flat = batch.imgBatch.transpose(0, 1).reshape([v * t, c, h, w]);
    // Synchronous stretches run in `tidy` (it cannot span the sampler's awaits): intermediates
    // are freed at once; what backward needs stays with the tape.
    const features = tidy(() => this.prepareBackboneFeatures(this.forwardImage(flat)));
    const plan = await this.preparePromptInputs(batch, rand);
    return await this.forwardTracking(features, batch, plan, rand);
  }

  /** `prepare_prompt_inputs`: decides the prompt type, conditioning and correction frames. */
  async preparePromptInputs(
    batch: GpuVideoBatch,
    rand: TrainRandom,
    startFrameIdx = 0,
  ): Promise<PromptPlan> {
    const o = this.trainOptions, train = this.training;
    const numFrames = batch.imgBatch.shape[0];
    let probPt = train ? o.prob_to_use_pt_input_for_train : o.prob_to_use_pt_input_for_eval;
    const probBox = train ? o.prob_to_use_box_input_for_train : o.prob_to_use_box_input_for_eval;
    let numCorrect = train ? o.num_frames_to_correct_for_train : o.num_frames_to_correct_for_eval;
    const randCorrect = train
      ? o.rand_frames_to_correct_for_train
      : o.rand_frames_to_correct_for_eval;
    let numInit = train ? o.num_init_cond_frames_for_train : o.num_init_cond_frames_for_eval;
    const randInit = train ? o.rand_init_cond_frames_for_train : o.rand_init_cond_frames_for_eval;
    if (numFrames === 1) {
      // Images (SAM task): always points, one frame.
      probPt = 1, numCorrect = 1, numInit = 1;
    }
    if (numInit < 1) throw new RangeError("num_init_cond_frames must be >= 1");
    const usePtInput = rand.random() < probPt;
    if (randInit && numInit > 1) numInit = rand.integers(1, numInit);
    if (usePtInput && randCorrect && numCorrect > numInit) {
      numCorrect = rand.integers(numInit, numCorrect);
    }
    const range = (a: number, b: number) =>
      Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
    const initCondFrames = numInit === 1
      ? [startFrameIdx]
      : [startFrameIdx, ...rand.choice(range(startFrameIdx + 1, numFrames), numInit - 1)];
    const framesNotInInitCond = range(startFrameIdx, numFrames).filter((f) =>
      !initCondFrames.includes(f)
    );
    const maskInputFrames: number[] = [];
    const pointInputsPerFrame = new Map<number, HostPoints>();
    for (const f of initCondFrames) {
      if (!usePtInput) {
        maskInputFrames.push(f);
        continue;
      }
      const gtF = frameGt(batch, f);
      const useBox = rand.random() < probBox;
      if (useBox) {
        pointInputsPerFrame.set(
          f,
          rand.sampleBox({ frame: f, phase: "prepare_prompt_inputs", gt: gtF }),
        );
      } else {
        // One click from the GT only; more come as corrections.
        pointInputsPerFrame.set(
          f,
          await rand.samplePoints({
            frame: f,
            phase: "prepare_prompt_inputs",
            gt: gtF,
            pred: null,
            method: this.#pointSamplingMethod(),
          }),
        );
      }
    }
    let framesToAddCorrectionPt: number[];
    if (!usePtInput) framesToAddCorrectionPt = [];
    else if (numCorrect === numInit) framesToAddCorrectionPt = initCondFrames;
    else {
      if (numCorrect <= numInit) {
        throw new RangeError("num_frames_to_correct < num_init_cond_frames");
      }
      framesToAddCorrectionPt = [
        ...initCondFrames,
        ...rand.choice(framesNotInInitCond, numCorrect - numInit),
      ];
    }
    return {
      usePtInput,
      initCondFrames,
      framesNotInInitCond,
      framesToAddCorrectionPt,
      maskInputFrames,
      pointInputsPerFrame,
    };
  }

  /** `"uniform" if self.training else self.pt_sampling_for_eval`, as the reference chooses. */
  #pointSamplingMethod(): PointSamplingMethod {
    return this.training ? "uniform" : this.trainOptions.pt_sampling_for_eval;
  }

  /**
   * `forward_tracking`: processes the initial conditioning frames, then the others in time
   * order; each object tracks on its own frame's features (`flat_obj_to_img_idx`).
   */
  async forwardTracking(
    features: BackboneFeatures,
    batch: GpuVideoBatch,
    plan: PromptPlan,
    rand: TrainRandom,
  ): Promise<TrainForwardOutput> {
    const numFrames = batch.imgBatch.shape[0], o = batch.numObjects;
    const processingOrder = [...plan.initCondFrames, ...plan.framesNotInInitCond];
    const outputDict: OutputDict = { condFrameOutputs: new Map(), nonCondFrameOutputs: new Map() };
    const [, , , h, w] = batch.imgBatch.shape;
    for (const stage of processingOrder) {
      const ids = new Int32Array(o);
      for (let b = 0; b < o; b++) {
        const frame = batch.objToFrameIdx[(stage * o + b) * 2];
        const video = batch.objToFrameIdx[(stage * o + b) * 2 + 1];
        ids[b] = video * numFrames + frame;
      }
      const cur: BackboneFeatures = tidy(() => {
        const idx = tensor(ids, [o], { dtype: "i32" });
        return {
          visionFeats: features.visionFeats.map((x) => indexSelect(x, 1, idx)),
          visionPosEmbeds: features.visionPosEmbeds.map((x) => indexSelect(x, 1, idx)),
          featSizes: features.featSizes,
        };
      });
      const gtF = frameGt(batch, stage);
      const maskInputs = plan.maskInputFrames.includes(stage)
        ? tensor(Float32Array.from(gtF.data), [o, 1, h, w])
        : null;
      const out = await this.trainTrackStep({
        frameIdx: stage,
        isInitCondFrame: plan.initCondFrames.includes(stage),
        features: cur,
        pointInputs: plan.pointInputsPerFrame.get(stage) ?? null,
        maskInputs,
        gt: gtF,
        correct: plan.framesToAddCorrectionPt.includes(stage),
        outputDict,
        numFrames,
        rand,
      });
      const asCond = plan.initCondFrames.includes(stage) ||
        (this.trainOptions.add_all_frames_to_correct_as_cond &&
          plan.framesToAddCorrectionPt.includes(stage));
      (asCond ? outputDict.condFrameOutputs : outputDict.nonCondFrameOutputs).set(stage, out);
    }
    const all = new Map<number, TrainFrameOutput>();
    for (const [f, out] of outputDict.condFrameOutputs) all.set(f, out as TrainFrameOutput);
    for (const [f, out] of outputDict.nonCondFrameOutputs) all.set(f, out as TrainFrameOutput);
    const frames = Array.from({ length: numFrames }, (_, f) => {
      const out = all.get(f);
      if (!out) throw new Error(`SAM2Train: frame ${f} was not tracked`);
      return out;
    });
    return { frames, plan, processingOrder };
  }

  /**
   * `SAM2Train.track_step`: the first prediction, then (on correction frames) the iterative
   * correction clicks, then the memory of the final prediction.
   */
  async trainTrackStep(args: {
    frameIdx: number;
    isInitCondFrame: boolean;
    features: BackboneFeatures;
    pointInputs: HostPoints | null;
    maskInputs: Tensor | null;
    gt: MaskBatch;
    correct: boolean;
    outputDict: OutputDict;
    numFrames: number;
    rand: TrainRandom;
  }): Promise<TrainFrameOutput> {
    let points = args.pointInputs;
    const first = tidy(() =>
      this.trackStepHeads({
        frameIdx: args.frameIdx,
        isInitCondFrame: args.isInitCondFrame,
        features: args.features,
        pointInputs: toPointPrompt(points),
        maskInputs: args.maskInputs,
        outputDict: args.outputDict,
        numFrames: args.numFrames,
      })
    );
    let heads = first.heads;
    const multistep = [heads], multistepPointInputs = [points];
    if (args.correct) {
      const o = this.trainOptions;
      const prob = o.prob_to_sample_from_gt_for_train;
      for (let k = 0; k < o.num_correction_pt_per_frame; k++) {
        const fromGt = this.training && prob > 0 ? args.rand.random() < prob : false;
        const current = heads.highResMasks;
        const pred = fromGt ? null : async () => {
          const m = gt(current, 0);
          const data = Uint8Array.from(
            (await m.toArray()) as ArrayLike<number>,
            (x) => (x ? 1 : 0),
          );
          m.dispose();
          return data;
        };
        const add = await args.rand.samplePoints({
          frame: args.frameIdx,
          phase: "correction",
          gt: args.gt,
          pred,
          method: this.#pointSamplingMethod(),
        });
        points = concatHostPoints(points, add);
        const stepPoints = points, prev = heads;
        heads = tidy(() => {
          const prompt = toPointPrompt(stepPoints);
          return this.forwardSamHeads(first.pixFeat, {
            pointInputs: prompt,
            maskInputs: prev.lowResMasks,
            highResFeatures: first.highRes,
            multimaskOutput: this.useMultimask(args.isInitCondFrame, prompt),
          });
        });
        multistep.push(heads);
        multistepPointInputs.push(points);
      }
    }
    const prompt = toPointPrompt(points);
    const out: TrainFrameOutput = {
      ...frameOutputOf(heads, prompt, args.maskInputs),
      multistep,
      multistepPointInputs,
    };
    tidy(() => {
      this.encodeMemoryInOutput(args.features, prompt, true, out);
      return [out.maskmemFeatures, out.maskmemPosEnc];
    });
    return out;
  }
}
