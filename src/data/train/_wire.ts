/** Datapoints across a Worker boundary: plain objects plus the buffers to transfer. */
import type { VideoDatapoint } from "./datapoint.ts";

export function transferablesOf(dp: VideoDatapoint): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const f of dp.frames) {
    set.add(f.image.data.buffer as ArrayBuffer);
    if (f.tensor) set.add(f.tensor.buffer as ArrayBuffer);
    for (const o of f.objects) set.add(o.segment.buffer as ArrayBuffer);
  }
  return [...set];
}
