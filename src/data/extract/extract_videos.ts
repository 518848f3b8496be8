/**
 * Many videos to `<outRoot>/<video stem>/<index:05d>.jpg`, several at once, optionally one
 * shard of the list. A failing video is recorded with ffmpeg's reason and the others go on;
 * complete folders (see `marker.ts`) are skipped, partial ones redone.
 *
 * @module
 */
import { basename, extname, join } from "node:path";
import { checkSampleRate, extractVideo } from "./extract_video.ts";
import { checkQuality } from "./jpeg_encode.ts";
import { FfmpegError } from "./ffmpeg.ts";
import { type Shard, shardList } from "./shard.ts";

/** One step of a multi-video run, for progress displays and logs. */
export type ExtractEvent =
  | { kind: "start"; video: string }
  | { kind: "frame"; video: string; framesDone: number; framesTotal: number }
  | { kind: "done"; video: string; frames: number; warnings: string[] }
  | { kind: "skipped"; video: string; frames: number }
  | { kind: "failed"; video: string; reason: string };

/** Options of {@linkcode extractVideos}. */
export interface ExtractVideosOptions {
  /** Keep every `sampleRate`-th decoded frame. @default {4} */
  sampleRate?: number;
  /** IJG JPEG quality 1..100. @default {95} */
  quality?: number;
  /** Videos extracted at the same time. @default {1} */
  jobs?: number;
  /** ffmpeg decoding threads per video. @default {max(1, floor(cores / jobs))} */
  ffmpegThreads?: number;
  /** Only this shard of the (sorted) list. @default {the whole list} */
  shard?: Shard;
  /** Skip videos whose folder is already complete with these parameters. @default {true} */
  skipComplete?: boolean;
  /** Stops the run: running videos are abandoned (staging removed), the rest not started. */
  signal?: AbortSignal;
  /** Called once, before any video, with the number of videos in this shard. */
  onStart?: (total: number) => void;
  /** Receives every {@linkcode ExtractEvent}. */
  onEvent?: (event: ExtractEvent) => void;
}

/** The outcome of {@linkcode extractVideos}; `failed` non-empty means the run failed. */
export interface ExtractSummary {
  /** Videos in this shard. */
  total: number;
  /** Videos extracted in this run. */
  extracted: number;
  /** Videos already complete. */
  skipped: number;
  /** Videos that could not be extracted, with the reason (ffmpeg's words where it gave one). */
  failed: { video: string; reason: string }[];
  /** JPEG files written in this run. */
  frames: number;
  /** Wall time of the run. */
  seconds: number;
  /** The shard that ran. */
  shard: Shard;
}

/** The folder name of a video: its file name without extension (`sav_000001`). */
export function videoStem(video: string): string {
  return basename(video, extname(video));
}

/**
 * Extracts `videos` (after sharding) to `<outRoot>/<stem>/`. Never throws for a bad video:
 * those land in `summary.failed`. Throws only on bad options or when two videos share a
 * stem (they would write the same folder).
 *
 * @example
 * ```ts
 * const s = await extractVideos(await listVideos("sav_train/"), "frames", { jobs: 4 });
 * if (s.failed.length > 0) console.error(s.failed);
 * ```
 */
export async function extractVideos(
  videos: string[],
  outRoot: string,
  opts: ExtractVideosOptions = {},
): Promise<ExtractSummary> {
  const t0 = performance.now();
  const shard = opts.shard ?? { index: 0, count: 1 };
  const mine = shardList(videos, shard);
  checkSampleRate(opts.sampleRate ?? 4);
  checkQuality(opts.quality ?? 95);
  const jobs = opts.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new RangeError(`Jobs must be a positive integer: got ${jobs}`);
  }
  const byStem = new Map<string, string>();
  for (const v of videos) {
    const prev = byStem.get(videoStem(v));
    if (prev !== undefined && prev !== v) {
      throw new Error(
        `Videos "${prev}" and "${v}" have the same name "${videoStem(v)}" and would write the ` +
          `same folder: rename one or extract them separately`,
      );
    }
    byStem.set(videoStem(v), v);
  }
  await Deno.mkdir(outRoot, { recursive: true });

  const summary: ExtractSummary = {
    total: mine.length,
    extracted: 0,
    skipped: 0,
    failed: [],
    frames: 0,
    seconds: 0,
    shard,
  };
  opts.onStart?.(mine.length);
  // Each job gets its share of the cores: ffmpeg decodes with that many threads and that
  // many frames (at least 2, so reading overlaps encoding) are encoded at once.
  const cores = navigator.hardwareConcurrency ?? 2;
  const share = Math.max(1, Math.floor(cores / Math.min(jobs, Math.max(mine.length, 1))));
  const inFlight = Math.max(2, share);
  let next = 0;
  const worker = async () => {
    while (next < mine.length && !opts.signal?.aborted) {
      const video = mine[next++];
      opts.onEvent?.({ kind: "start", video });
      try {
        const r = await extractVideo(video, join(outRoot, videoStem(video)), {
          sampleRate: opts.sampleRate,
          quality: opts.quality,
          signal: opts.signal,
          skipComplete: opts.skipComplete ?? true,
          inFlight,
          ffmpegThreads: opts.ffmpegThreads ?? share,
          onProgress: opts.onEvent
            ? (framesDone, framesTotal) =>
              opts.onEvent?.({ kind: "frame", video, framesDone, framesTotal })
            : undefined,
        });
        if (r.skipped) {
          summary.skipped++;
          opts.onEvent?.({ kind: "skipped", video, frames: r.frames });
        } else {
          summary.extracted++;
          summary.frames += r.frames;
          opts.onEvent?.({ kind: "done", video, frames: r.frames, warnings: r.warnings ?? [] });
        }
      } catch (e) {
        if (opts.signal?.aborted) break;
        const reason = e instanceof FfmpegError
          ? e.reason
          : e instanceof Error
          ? `${e.name}: ${e.message}`
          : String(e);
        summary.failed.push({ video, reason });
        opts.onEvent?.({ kind: "failed", video, reason });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, Math.max(mine.length, 1)) }, worker));
  opts.signal?.throwIfAborted();
  summary.failed.sort((a, b) => (a.video < b.video ? -1 : a.video > b.video ? 1 : 0));
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}
