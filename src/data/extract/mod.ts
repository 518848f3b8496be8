/**
 * SA-V style frame extraction: videos to `<out>/<stem>/<index:05d>.jpg`, every Nth decoded
 * frame, JPEG on the IJG quality scale (default 95, like the reference's `cv2.imwrite`),
 * written atomically, resumable, shardable, with an sbatch array template for clusters.
 *
 * @example
 * ```ts
 * import { extractVideos, listVideos } from "./mod.ts";
 * const summary = await extractVideos(await listVideos("sav_train/"), "frames", { jobs: 2 });
 * ```
 *
 * @module
 */
export * from "./extract_video.ts";
export * from "./extract_videos.ts";
export * from "./ffmpeg.ts";
export * from "./list_videos.ts";
export * from "./shard.ts";
export * from "./marker.ts";
export * from "./jpeg_encode.ts";
export * from "./ppm_stream.ts";
export * from "./slurm.ts";
