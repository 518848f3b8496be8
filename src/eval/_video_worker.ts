/// <reference lib="deno.worker" />
/** Worker of evaluate()'s pool: scores one video per message. */
import { evaluateVideo } from "./_evaluate_video.ts";

self.onmessage = async (e: MessageEvent) => {
  const { index, gtRoot, predRoot, video, skip, boundTh } = e.data;
  try {
    const result = await evaluateVideo(gtRoot, predRoot, video, skip, boundTh);
    self.postMessage({ index, result });
  } catch (err) {
    const error = err as Error;
    self.postMessage({ index, error: [error.name, error.message] });
  }
};
