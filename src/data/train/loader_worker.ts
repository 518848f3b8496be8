/**
 * Loader Worker: builds the datasets from their specs once, then answers clip requests with
 * transformed datapoints whose buffers are transferred, not copied.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { Rng } from "../rng.ts";
import { type ClipSourceSpec, openClipSource } from "./clip_dataset_spec.ts";
import type { ClipSource } from "./concat_dataset.ts";
import { transferablesOf } from "./_wire.ts";
import { hostBufferPool } from "./buffer_pool.ts";

let datasets: Promise<ClipSource[]> | null = null;

self.onmessage = async (ev: MessageEvent) => {
  const msg = ev.data;
  if (msg.type === "init") {
    datasets = Promise.all((msg.specs as ClipSourceSpec[]).map(openClipSource));
    try {
      await datasets;
      self.postMessage({ type: "ready" });
    } catch (e) {
      self.postMessage({ type: "error", id: -1, message: (e as Error).message });
    }
    return;
  }
  if (msg.type === "recycle") {
    for (const b of msg.buffers as ArrayBuffer[]) hostBufferPool.adopt(b);
    return;
  }
  if (msg.type === "get") {
    try {
      const ds = (await datasets!)[msg.datasetIdx];
      const dp = await ds.get(msg.idx, Rng.fromState(msg.rngState), msg.epoch);
      self.postMessage({ type: "item", id: msg.id, dp }, transferablesOf(dp));
    } catch (e) {
      self.postMessage({ type: "error", id: msg.id, message: (e as Error).message });
    }
  }
};
