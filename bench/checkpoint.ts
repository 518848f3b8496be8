/**
 * `deno task bench checkpoint [--json] [--mb N]`: checkpoint read/write throughput on the host
 * CPU for a synthetic state dict of N MB (default 64) in SAM 2-like tensor sizes, against the
 * plain file copy of the same bytes (read into one buffer / write + fsync) timed in the same run.
 * Ratios > 1 mean slower than the raw copy; the difference is CRC-32, pickling and records.
 */
import {
  float32Tensor,
  loadPt,
  loadSafetensors,
  savePt,
  saveSafetensors,
  type StateDict,
} from "../src/checkpoint/mod.ts";
import { crc32Chunks } from "../src/checkpoint/crc32.ts";

const args = Deno.args;
const json = args.includes("--json");
const mbIdx = args.indexOf("--mb");
const mb = mbIdx >= 0 ? Number(args[mbIdx + 1]) : 64;

// Tensors of 4 KB .. 4 MB, like a model's biases, norms and weight matrices.
const sd: StateDict = new Map();
let bytes = 0;
for (let i = 0; bytes < mb * 2 ** 20; i++) {
  const n = [1024, 65536, 262144, 1048576][i % 4];
  const v = new Float32Array(n);
  for (let j = 0; j < n; j += 97) v[j] = j * 1e-3;
  sd.set(`layer${i}.weight`, float32Tensor([n], v));
  bytes += n * 4;
}
const raw = new Uint8Array(bytes);
const dir = await Deno.makeTempDir({ prefix: "bench_ckpt_" });
const best = async (f: () => Promise<unknown>, reps = 3) => {
  let b = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await f();
    b = Math.min(b, performance.now() - t);
  }
  return b;
};
try {
  // Baseline write: the same bytes, written and fsynced like our atomic writes are.
  const writeRaw = await best(async () => {
    using f = await Deno.open(`${dir}/raw.bin`, { write: true, create: true, truncate: true });
    let o = 0;
    while (o < raw.length) o += await f.write(raw.subarray(o));
    await f.sync();
  });
  // Baseline read: the bytes into one preallocated buffer (Deno.readFile grows its buffer and
  // was several times slower than this here).
  const readRaw = await best(async () => {
    using f = await Deno.open(`${dir}/raw.bin`);
    const out = new Uint8Array(raw.length);
    let o = 0;
    while (o < out.length) {
      const n = await f.read(out.subarray(o));
      if (n === null) break;
      o += n;
    }
  });
  const writePt = await best(() => savePt(`${dir}/a.pt`, { model: sd }));
  const readPt = await best(() => loadPt(`${dir}/a.pt`));
  const readPtNoCrc = await best(() => loadPt(`${dir}/a.pt`, { verifyCrc: false }));
  const writeSt = await best(() => saveSafetensors(`${dir}/a.safetensors`, sd));
  const readSt = await best(() => loadSafetensors(`${dir}/a.safetensors`));
  const crcMs = await best(() => crc32Chunks([raw]));
  const device =
    `host CPU (${navigator.hardwareConcurrency} threads, ${Deno.build.os}/${Deno.build.arch})`;
  const mbps = (ms: number) => bytes / 2 ** 20 / (ms / 1000);
  const result = {
    bench: "checkpoint",
    device,
    mb: bytes / 2 ** 20,
    tensors: sd.size,
    baseline: { writeFsyncMs: writeRaw, readMs: readRaw },
    ratios: {
      savePt: writePt / writeRaw,
      loadPt: readPt / readRaw,
      loadPtNoCrc: readPtNoCrc / readRaw,
      saveSafetensors: writeSt / writeRaw,
      loadSafetensors: readSt / readRaw,
    },
    mbPerSecond: {
      savePt: mbps(writePt),
      loadPt: mbps(readPt),
      saveSafetensors: mbps(writeSt),
      loadSafetensors: mbps(readSt),
      crc32: mbps(crcMs),
    },
  };
  if (json) console.log(JSON.stringify(result));
  else {
    console.log(`checkpoint I/O, ${result.mb.toFixed(0)} MB in ${sd.size} tensors, ${device}`);
    console.log(
      `baseline: write+fsync ${writeRaw.toFixed(0)} ms, read ${readRaw.toFixed(0)} ms`,
    );
    for (const [k, v] of Object.entries(result.ratios)) {
      console.log(`  ${k.padEnd(16)} ${v.toFixed(2)}x the raw copy`);
    }
    console.log(`  crc32            ${mbps(crcMs).toFixed(0)} MB/s`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
