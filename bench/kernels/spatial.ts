/**
 * Memory-bound spatial ops at SAM 2 decoder/encoder shapes: bilinear x4 upsampling of low-res
 * masks (forward and backward), antialiased 4x mask downscaling, bicubic pos-embed resize,
 * 2x2 max pool, LayerNorm2d, and the k2 s2 conv_transpose2d of the mask decoder. Each reports
 * GB/s of its compulsory traffic (inputs read once, outputs written once) and the ratio to a
 * plain contiguous copy of the same bytes timed in the same run (round-robin trials, minimum).
 */
import {
  backward,
  convTranspose2d,
  copyContiguous,
  interpolate,
  layerNorm2d,
  matmulRaw,
  maxPool2d,
  noGrad,
  type Tensor,
  tensor,
} from "../../src/tensor/mod.ts";
import { rand, timeAll } from "./_timing.ts";
import { benchCase, type BenchResult } from "./_registry.ts";

interface Case {
  name: string;
  shape: number[];
  /** Bytes moved (compulsory). */
  bytes: number;
  run: (x: Tensor) => void;
}

benchCase({
  family: "spatial",
  name: "spatial ops",
  async run(ctx) {
    const trials = ctx.quick ? 2 : 4;
    const lnW = tensor(rand(256, 7), [256]), lnB = tensor(rand(256, 8), [256]);
    const mb = (n: number) => n * 4;
    const cases: Case[] = [
      {
        name: "bilinear x4 up [3,256,256]->[3,1024,1024] fwd",
        shape: [1, 3, 256, 256],
        bytes: mb(3 * 256 * 256 + 3 * 1024 * 1024),
        run: (x) => void noGrad(() => interpolate(x, { size: [1024, 1024], mode: "bilinear" })),
      },
      {
        name: "bilinear x4 up fwd+bwd",
        shape: [1, 3, 256, 256],
        bytes: 2 * mb(3 * 256 * 256 + 3 * 1024 * 1024),
        run: (x) => {
          const xr = x.alias();
          xr.requiresGrad = true;
          const y = interpolate(xr, { size: [1024, 1024], mode: "bilinear" });
          backward(y, { grad: y });
          xr.grad?.dispose();
        },
      },
      {
        name: "antialias bilinear 1024->256 [1,1,1024,1024]",
        shape: [1, 1, 1024, 1024],
        bytes: mb(1024 * 1024 + 256 * 256),
        run: (x) =>
          void noGrad(() =>
            interpolate(x, { size: [256, 256], mode: "bilinear", antialias: true })
          ),
      },
      {
        name: "bicubic pos_embed [1,96,7,7]->[1,96,256,256]",
        shape: [1, 96, 7, 7],
        bytes: mb(96 * 49 + 96 * 256 * 256),
        run: (x) => void noGrad(() => interpolate(x, { size: [256, 256], mode: "bicubic" })),
      },
      {
        name: "max_pool2d 2x2 [1,96,256,256]",
        shape: [1, 96, 256, 256],
        bytes: mb(96 * 256 * 256 * 1.25) + 96 * 128 * 128 * 4,
        run: (x) => void noGrad(() => maxPool2d(x, { kernelSize: 2 })),
      },
      {
        name: "layerNorm2d [1,256,64,64]",
        shape: [1, 256, 64, 64],
        bytes: mb(2 * 256 * 64 * 64),
        run: (x) => void noGrad(() => layerNorm2d(x, lnW, lnB)),
      },
    ];
    const out: BenchResult[] = [];
    for (const c of cases) {
      ctx.log(c.name);
      const n = c.shape.reduce((a, b) => a * b);
      const x = tensor(rand(n, 1), c.shape);
      // Baseline: a contiguous copy moving the same number of bytes.
      const copyN = Math.max(1, Math.round(c.bytes / 8));
      const src = tensor(rand(copyN, 2), [copyN]);
      const [t, tc] = await timeAll([() => c.run(x), () => void copyContiguous(src)], trials);
      out.push({
        name: c.name,
        metrics: {
          ms: +(t * 1e3).toFixed(2),
          gbps: +(c.bytes / t / 1e9).toFixed(3),
          copy_gbps: +(copyN * 8 / tc / 1e9).toFixed(3),
          over_copy_rate: +((c.bytes / t) / (copyN * 8 / tc)).toFixed(2),
        },
      });
      x.dispose();
      src.dispose();
    }
    // conv_transpose2d k2 s2 256->64 at 64x64 (decoder upscaling), as a matmul + pixel shuffle.
    ctx.log("conv_transpose2d k2 s2 256->64 64x64");
    const x = tensor(rand(256 * 64 * 64, 3), [1, 256, 64, 64]);
    const w = tensor(rand(256 * 64 * 4, 4), [256, 64, 2, 2]);
    const a = tensor(rand(256 * 256, 5), [256, 256]);
    const b = tensor(rand(256 * 4096, 6), [256, 4096]);
    const flop = 2 * 256 * 64 * 4 * 64 * 64;
    const [t, tm] = await timeAll([
      () => void noGrad(() => convTranspose2d(x, w, null, { stride: 2 })),
      () => void matmulRaw(a, b), // the same GEMM without the pixel shuffle
    ], trials);
    out.push({
      name: "conv_transpose2d k2 s2 256->64 64x64",
      metrics: {
        ms: +(t * 1e3).toFixed(2),
        gflops: +(flop / t / 1e9).toFixed(3),
        matmul_gflops: +(flop / tm / 1e9).toFixed(3),
        over_matmul_rate: +(tm / t).toFixed(2),
      },
    });
    [x, w, a, b, lnW, lnB].forEach((t) => t.dispose());
    return out;
  },
});
