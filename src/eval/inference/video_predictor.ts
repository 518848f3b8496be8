/**
 * Semi-supervised video object segmentation with a SAM 2 model: the path the reference's
 * `tools/vos_inference.py` takes through `SAM2VideoPredictor` (`init_state`, `add_new_mask` on
 * the first frame, `propagate_in_video` forward), with every object of a video tracked as one
 * batch row.
 *
 * @module
 */
import { loadModelWeights } from "../../checkpoint/mod.ts";
import {
  loadModelConfig,
  type ModelConfigFile,
  SAM2Base,
  videoPredictorOverrides,
} from "../../sam2/mod.ts";
import {
  type BackboneFeatures,
  type FrameOutput,
  type ImageEncoderOutput,
  NO_OBJ_SCORE,
  type OutputDict,
} from "../../sam2/mod.ts";
import {
  cat,
  full,
  ge,
  interpolate,
  noGrad,
  slice,
  type Tensor,
  tensor,
  tidy,
} from "../../tensor/mod.ts";
import type { ObjectMasks } from "../vos_masks.ts";
import { type LoadedFrame, loadFrame, type VideoFrame } from "./frames.ts";

/** Options of a {@link VideoPredictor}. */
export interface VideoPredictorOptions {
  /**
   * Keep only the highest-scoring object at each pixel (`non_overlap_masks`; vos_inference sets
   * it unless `--per_obj_png_file`). @default the config's `non_overlap_masks`, else false
   */
  nonOverlapMasks?: boolean;
  /** Mask logits above this are the object (`--score_thresh`). @default 0 */
  scoreThresh?: number;
}

/** Options of {@link VideoPredictor.load}. */
export interface LoadVideoPredictorOptions extends VideoPredictorOptions {
  /** The PyTorch checkpoint (`.pt`, weights under "model") or a safetensors file. */
  checkpoint: string;
  /** The model configuration (a path or a reference config name). */
  modelConfig: string;
  /**
   * The reference's `--apply_postprocessing` (dynamic multimask via stability, binarised
   * memory masks; hole filling is CUDA-only in the reference and skipped without it, as here).
   * @default false
   */
  applyPostprocessing?: boolean;
  /** Extra hydra-style overrides (`++model.max_obj_ptrs_in_encoder=4`). @default [] */
  overrides?: string[];
}

/** What {@link VideoPredictor.predictVideo} reports per frame. */
export interface PredictedFrame {
  /** Index in the video (0-based, in frame order). */
  index: number;
  /** The frame's name (file name without extension). */
  name: string;
  /** Object id to binary mask (1 = object) at the video resolution. */
  masks: ObjectMasks;
  width: number;
  height: number;
  /**
   * The mask logits at the video resolution, [objects (ascending id), height, width], before
   * the non-overlap rule and the threshold (`video_res_masks` with `non_overlap_masks` off).
   */
  logits: Float32Array;
}

/** Input of {@link VideoPredictor.predictVideo}. */
export interface PredictVideoInput {
  /** The video's frames in order (see `listVideoFrames`). */
  frames: VideoFrame[];
  /** Masks of the objects on the first frame (object id -> binary mask, `maskWidth` wide). */
  prompts?: ObjectMasks;
  /**
   * Instead of `prompts`: the masks of every annotated frame (frame index -> masks); each
   * object starts on its first non-empty mask (`--track_object_appearing_later_in_video`).
   */
  promptsByFrame?: Map<number, ObjectMasks>;
  /**
   * With `promptsByFrame`: vos_inference's rule (the objects are those of the first input
   * frame; every input frame's masks are added, empty ones too) instead of the per-object one.
   * @default false
   */
  allObjectsFromFirstFrame?: boolean;
  /** Use every prompt mask, not only each object's first (`--use_all_masks`). @default false */
  useAllMasks?: boolean;
  /** Overrides the predictor's {@link VideoPredictor.nonOverlapMasks} for this video. */
  nonOverlapMasks?: boolean;
  maskWidth: number;
  maskHeight: number;
  /** Receives each frame's masks in order; awaited before the next frame is read. */
  onFrame: (frame: PredictedFrame) => void | Promise<void>;
}

/** Objects that start on the same frame, tracked as one batch with their own memory. */
interface ObjectGroup {
  /** The conditioning frames, joined (the grouping key). */
  key: string;
  /** The first conditioning frame. */
  start: number;
  ids: number[];
  /** Conditioning frame -> the masks of `ids` on it, in order. */
  masks: Map<number, Uint8Array[]>;
  outputDict: OutputDict;
}

/** Timing and size of one predicted video. */
export interface PredictVideoResult {
  frames: number;
  objects: number;
  width: number;
  height: number;
  /** Wall time of the whole video, frame reading and mask writing included. */
  seconds: number;
}

/** The compact per-frame state the reference keeps (`compact_current_out`). */
function compact(out: FrameOutput): FrameOutput {
  return {
    pointInputs: null,
    maskInputs: null,
    predMasks: out.predMasks,
    // Never read again for memory: the reference drops it too. Kept as an alias for the type.
    predMasksHighRes: out.predMasks,
    objPtr: out.objPtr,
    objectScoreLogits: out.objectScoreLogits,
    maskmemFeatures: out.maskmemFeatures,
    maskmemPosEnc: out.maskmemPosEnc,
  };
}

/**
 * Frees a frame's state. `maskmemPosEnc` is left alone: it is (a view of) the memory
 * encoder's cached position table, constant across frames (the reference keeps one copy too).
 */
function disposeOutput(out: FrameOutput): void {
  const ts = new Set<Tensor>([out.predMasks, out.predMasksHighRes, out.objPtr]);
  ts.add(out.objectScoreLogits);
  if (out.maskmemFeatures) ts.add(out.maskmemFeatures);
  if (out.maskInputs) ts.add(out.maskInputs);
  for (const t of ts) t.dispose();
}

/**
 * Turns video-resolution logits [B, 1, H, W] into one binary mask per object:
 * `_apply_non_overlapping_constraints` (the first highest-scoring object keeps its score, the
 * others are clamped to at most -10) when asked, then `> scoreThresh`.
 */
export function masksFromLogits(
  logits: Float32Array,
  objIds: readonly number[],
  hw: number,
  opts: { nonOverlap: boolean; scoreThresh: number },
): ObjectMasks {
  const b = objIds.length;
  const out: ObjectMasks = new Map();
  const planes = objIds.map(() => new Uint8Array(hw));
  for (let i = 0; i < hw; i++) {
    let best = 0;
    if (opts.nonOverlap) {
      for (let o = 1; o < b; o++) if (logits[o * hw + i] > logits[best * hw + i]) best = o;
    }
    for (let o = 0; o < b; o++) {
      let v = logits[o * hw + i];
      if (opts.nonOverlap && o !== best) v = Math.min(v, -10);
      if (v > opts.scoreThresh) planes[o][i] = 1;
    }
  }
  objIds.forEach((id, o) => out.set(id, planes[o]));
  return out;
}

/**
 * A SAM 2 model run as the reference's `SAM2VideoPredictor` for VOS evaluation: the first
 * frame's masks are the conditioning frame (mask used as output when
 * `use_mask_input_as_output_without_sam`), then every later frame is tracked from memory.
 * Only the frames the memory can still reach are kept, so GPU memory stays flat over long
 * videos; each frame's image features are computed once and released with the frame.
 *
 * @example
 * ```ts
 * const p = await VideoPredictor.load({ checkpoint: "model.pt", modelConfig: "configs/mini.yaml" });
 * const frames = await listVideoFrames("JPEGImages/bear");
 * const prompt = await readPromptMasks("Annotations", "bear", frames[0].name);
 * await p.predictVideo({ frames, prompts: prompt.masks, maskWidth: prompt.width,
 *   maskHeight: prompt.height, onFrame: (f) => console.log(f.name, f.masks.size) });
 * ```
 */
export class VideoPredictor {
  readonly nonOverlapMasks: boolean;
  readonly scoreThresh: number;
  readonly imageSize: number;

  constructor(readonly model: SAM2Base, options: VideoPredictorOptions = {}) {
    this.nonOverlapMasks = options.nonOverlapMasks ?? false;
    this.scoreThresh = options.scoreThresh ?? 0;
    this.imageSize = model.config.image_size;
    model.eval();
  }

  /**
   * Builds the model from its config with the predictor overrides of
   * `build_sam2_video_predictor`, and loads the checkpoint's "model" weights strictly.
   * @throws {Deno.errors.NotFound} naming a missing checkpoint or config file;
   *   `CheckpointError` naming missing / unexpected / mis-shaped keys.
   */
  static async load(options: LoadVideoPredictorOptions): Promise<VideoPredictor> {
    const st = await Deno.stat(options.checkpoint).catch(() => null);
    if (!st?.isFile) {
      throw new Deno.errors.NotFound(`Checkpoint "${options.checkpoint}" does not exist`);
    }
    let cfg: ModelConfigFile;
    try {
      cfg = await loadModelConfig(options.modelConfig, {
        overrides: [
          ...videoPredictorOverrides({ applyPostprocessing: options.applyPostprocessing ?? false }),
          ...(options.overrides ?? []),
        ],
      });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Deno.errors.NotFound(
          `Model config "${options.modelConfig}" not found (${(e as Error).message})`,
        );
      }
      throw e;
    }
    const model = new SAM2Base(cfg.model);
    const target = new Map<string, readonly number[]>();
    for (const [k, t] of model.stateDict()) target.set(k, t.shape);
    const report = await loadModelWeights(options.checkpoint, target, { strict: true });
    model.loadStateDict(report.stateDict);
    return new VideoPredictor(model, {
      nonOverlapMasks: options.nonOverlapMasks ?? cfg.videoPredictor?.non_overlap_masks,
      scoreThresh: options.scoreThresh,
    });
  }

  /**
   * How many past non-conditioning frames the next frame can read: the `num_maskmem - 1`
   * memories (strided by `memory_temporal_stride_for_eval`) and the object pointers of up to
   * `max_obj_ptrs_in_encoder - 1` frames back.
   */
  memoryWindow(numFrames: number): number {
    const c = this.model.config;
    const stride = c.memory_temporal_stride_for_eval;
    const mem = c.num_maskmem > 0 ? (c.num_maskmem - 1) * stride + 2 : 0;
    const ptrs = c.use_obj_ptrs_in_encoder ? Math.min(numFrames, c.max_obj_ptrs_in_encoder) : 0;
    return Math.max(mem, ptrs) + 1;
  }

  /** Image features of one frame, computed once (`forward_image`). */
  #encode(frame: LoadedFrame): ImageEncoderOutput {
    const s = this.imageSize;
    return this.model.forwardImage(tensor(frame.pixels, [1, 3, s, s]));
  }

  /** The frame's features expanded to `b` objects (`_get_image_feature`). */
  #features(enc: ImageEncoderOutput, b: number): BackboneFeatures {
    const expand = (t: Tensor) => t.expand([b, t.shape[1], t.shape[2], t.shape[3]]);
    return this.model.prepareBackboneFeatures({
      vision_features: expand(enc.vision_features),
      backbone_fpn: enc.backbone_fpn.map(expand),
      vision_pos_enc: enc.vision_pos_enc.map(expand),
    });
  }

  /** `add_new_mask` for a group's objects, then the memory encoding of the preflight. */
  #conditioningFrame(
    enc: ImageEncoderOutput,
    g: ObjectGroup,
    frameIdx: number,
    maskSize: [number, number],
    numFrames: number,
  ): FrameOutput {
    const s = this.imageSize, m = this.model, b = g.ids.length;
    const [mw, mh] = maskSize;
    const flat = new Float32Array(b * mw * mh);
    g.masks.get(frameIdx)!.forEach((mask, o) => {
      for (let i = 0; i < mw * mh; i++) flat[o * mw * mh + i] = mask[i] ? 1 : 0;
    });
    let maskInputs = tensor(flat, [b, 1, mh, mw]);
    if (mh !== s || mw !== s) {
      const resized = interpolate(maskInputs, {
        size: [s, s],
        mode: "bilinear",
        alignCorners: false,
        antialias: true,
      });
      maskInputs = ge(resized, 0.5);
    }
    const features = this.#features(enc, b);
    const out = m.trackStep({
      frameIdx,
      isInitCondFrame: true,
      features,
      pointInputs: null,
      maskInputs,
      outputDict: g.outputDict,
      numFrames,
      runMemEncoder: false,
    });
    const last = features.visionFeats.length - 1;
    const highRes = interpolate(out.predMasks, {
      size: [s, s],
      mode: "bilinear",
      alignCorners: false,
    });
    const mem = m.encodeNewMemory({
      visionFeat: features.visionFeats[last],
      featSize: features.featSizes[last],
      predMasksHighRes: highRes,
      objectScoreLogits: out.objectScoreLogits,
      isMaskFromPts: true,
    });
    return compact({ ...out, maskmemFeatures: mem.features, maskmemPosEnc: mem.posEnc });
  }

  /** One tracked (non-conditioning) frame, its memory encoded (`run_mem_encoder=True`). */
  #trackedFrame(
    enc: ImageEncoderOutput,
    index: number,
    g: ObjectGroup,
    numFrames: number,
  ): FrameOutput {
    const out = this.model.trackStep({
      frameIdx: index,
      isInitCondFrame: false,
      features: this.#features(enc, g.ids.length),
      pointInputs: null,
      maskInputs: null,
      outputDict: g.outputDict,
      numFrames,
      trackInReverse: false,
      runMemEncoder: true,
    });
    return compact(out);
  }

  /** Per object, its conditioning frames and masks (see {@link PredictVideoInput}). */
  #objectInputs(input: PredictVideoInput): Map<number, Map<number, Uint8Array>> {
    const separate = input.promptsByFrame !== undefined && !input.allObjectsFromFirstFrame;
    const byFrame = input.promptsByFrame ?? new Map(input.prompts ? [[0, input.prompts]] : []);
    const perObject = new Map<number, Map<number, Uint8Array>>();
    const sorted = [...byFrame].sort((a, b) => a[0] - b[0]);
    for (const [t, masks] of sorted) {
      if (t < 0 || t >= input.frames.length || !Number.isInteger(t)) {
        throw new RangeError(
          `predictVideo: prompt frame ${t} is outside 0..${input.frames.length - 1}`,
        );
      }
      for (const [id, m] of masks) {
        if (m.length !== input.maskWidth * input.maskHeight) {
          throw new Error(
            `predictVideo: mask of object ${id} on frame ${t} has ${m.length} pixels, expected ${input.maskWidth}x${input.maskHeight}`,
          );
        }
        // vos_separate_inference_per_object skips empty masks; vos_inference adds them.
        if (separate && !m.some((v) => v)) continue;
        let conds = perObject.get(id);
        if (!conds) {
          if (!separate && perObject.size > 0 && t !== sorted[0][0]) {
            throw new Error(
              `predictVideo: object ${id} appears only on frame ${t}, not on the first input frame ${
                sorted[0][0]
              } (track objects appearing later for such datasets)`,
            );
          }
          perObject.set(id, conds = new Map());
        }
        if (conds.size === 0 || input.useAllMasks) conds.set(t, m);
      }
    }
    return perObject;
  }

  /**
   * Tracks objects through every frame, forward from each object's first conditioning frame
   * (earlier frames get logits of -1024). Every prompt becomes a conditioning frame whose
   * masks are the output (mask used as output, as `add_new_mask`), with its memory encoded
   * before propagation starts (`propagate_in_video_preflight`).
   *
   * - `prompts`: all objects on frame 0 (vos_inference).
   * - `promptsByFrame` + `allObjectsFromFirstFrame` + `useAllMasks`: vos_inference with
   *   `--use_all_masks` (objects must appear on the first input frame).
   * - `promptsByFrame` alone: `vos_separate_inference_per_object`
   *   (`--track_object_appearing_later_in_video`): each object starts on its first non-empty
   *   mask (all its non-empty masks with `useAllMasks`).
   *
   * Objects with the same conditioning frames are one batch with one memory; the image
   * features of a frame are computed once for all batches.
   * @throws {Error} when there are no objects or a prompt mask has the wrong size.
   */
  async predictVideo(input: PredictVideoInput): Promise<PredictVideoResult> {
    const t0 = performance.now();
    const { frames } = input;
    if (frames.length === 0) throw new Error("predictVideo: the video has no frames");
    const perObject = this.#objectInputs(input);
    if (perObject.size === 0) throw new Error("predictVideo: no objects in the prompt masks");
    const objIds = [...perObject.keys()].sort((a, b) => a - b);
    const groups: ObjectGroup[] = [];
    for (const id of objIds) {
      const conds = perObject.get(id)!;
      const key = [...conds.keys()].join(",");
      let g = groups.find((x) => x.key === key);
      if (!g) {
        g = {
          key,
          start: Math.min(...conds.keys()),
          ids: [],
          masks: new Map([...conds.keys()].map((t) => [t, []])),
          outputDict: { condFrameOutputs: new Map(), nonCondFrameOutputs: new Map() },
        };
        groups.push(g);
      }
      g.ids.push(id);
      for (const [t, m] of conds) g.masks.get(t)!.push(m);
    }
    const n = frames.length, s = this.imageSize, b = objIds.length;
    const window = this.memoryWindow(n);
    const maskSize: [number, number] = [input.maskWidth, input.maskHeight];
    const read = async (t: number) => {
      const f = await loadFrame(frames[t].path, s);
      if (t > 0 && (f.width !== width || f.height !== height)) {
        throw new Error(
          `Frame "${
            frames[t].path
          }" is ${f.width}x${f.height}, but the video's first frame is ${width}x${height}`,
        );
      }
      return f;
    };
    let width = 0, height = 0;
    let next: Promise<LoadedFrame> | undefined;
    try {
      const first = await read(0);
      [width, height] = [first.width, first.height];
      // add_new_mask on every conditioning frame + the preflight's memory encoding.
      const condFrames = [...new Set(groups.flatMap((g) => [...g.masks.keys()]))].sort((a, b) =>
        a - b
      );
      for (const t of condFrames) {
        const frame = t === 0 ? first : await read(t);
        const outs = noGrad(() =>
          tidy(() => {
            const enc = this.#encode(frame);
            return groups.filter((g) => g.masks.has(t)).map((g) =>
              [g, this.#conditioningFrame(enc, g, t, maskSize, n)] as const
            );
          })
        );
        for (const [g, out] of outs) g.outputDict.condFrameOutputs.set(t, out);
      }
      const firstStart = Math.min(...groups.map((g) => g.start));
      next = firstStart === 0 ? Promise.resolve(first) : read(0);
      for (let t = 0; t < n; t++) {
        const frame = await next!;
        // Read the next frame while this one runs on the GPU.
        next = t + 1 < n ? read(t + 1) : undefined;
        let logits: Float32Array;
        if (t < firstStart) {
          logits = new Float32Array(b * width * height).fill(NO_OBJ_SCORE);
        } else {
          const track = groups.filter((g) => g.start <= t && !g.masks.has(t));
          const { outs, videoRes } = noGrad(() =>
            tidy(() => {
              const enc = track.length ? this.#encode(frame) : null;
              const outs = new Map<ObjectGroup, FrameOutput>();
              for (const g of track) outs.set(g, this.#trackedFrame(enc!, t, g, n));
              const lowRes = this.model.config.image_size / 4;
              const rows = objIds.map((id) => {
                const g = groups.find((x) => x.ids.includes(id))!;
                const o = outs.get(g) ?? g.outputDict.condFrameOutputs.get(t);
                if (!o) return full([1, 1, lowRes, lowRes], NO_OBJ_SCORE);
                const r = g.ids.indexOf(id);
                return slice(o.predMasks, 0, r, r + 1);
              });
              const videoRes = interpolate(rows.length === 1 ? rows[0] : cat(rows, 0), {
                size: [height, width],
                mode: "bilinear",
                alignCorners: false,
              });
              return { outs, videoRes };
            })
          );
          for (const [g, out] of outs) {
            const dict = g.outputDict;
            dict.nonCondFrameOutputs.set(t, out);
            const old = dict.nonCondFrameOutputs.get(t - window);
            if (old) {
              disposeOutput(old);
              dict.nonCondFrameOutputs.delete(t - window);
            }
          }
          try {
            logits = (await videoRes.toArray()) as Float32Array;
          } finally {
            videoRes.dispose();
          }
        }
        const masks = masksFromLogits(logits, objIds, width * height, {
          nonOverlap: input.nonOverlapMasks ?? this.nonOverlapMasks,
          scoreThresh: this.scoreThresh,
        });
        await input.onFrame({ index: t, name: frames[t].name, masks, width, height, logits });
      }
    } finally {
      await next?.catch(() => undefined);
      for (const g of groups) {
        for (const o of g.outputDict.condFrameOutputs.values()) disposeOutput(o);
        for (const o of g.outputDict.nonCondFrameOutputs.values()) disposeOutput(o);
      }
    }
    return { frames: n, objects: b, width, height, seconds: (performance.now() - t0) / 1000 };
  }

  /** Releases the model's GPU memory. */
  dispose(): void {
    this.model.dispose();
  }
}
