/**
 * Every conv kernel path under both kernel configurations: "cpu" (named registers, the kernels
 * lavapipe runs) and "gpu" (the real-GPU kernels), whatever the adapter, against the float64
 * references; each case also asserts which kernels ran, so a path cannot silently fall back.
 * Shapes are odd on purpose: channel counts not multiples of the 8-lane or 16-channel tiles,
 * rows not multiples of the lane tiles, batch > 1, stride 2 and 3 on odd input sizes.
 */
import { assert, assertAllClose, assertEquals } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { gpu } from "../../src/gpu/mod.ts";
import { conv2d } from "../../src/tensor/ops/conv2d.ts";
import { withConvConfig } from "../../src/tensor/ops/_conv_launch.ts";
import {
  conv2dWeightGradTiling,
  type ConvShape,
  depthwiseWeightGradRowsTiling,
  depthwiseWeightGradTiling,
} from "../../src/kernels/conv.ts";
import { conv2dBackwardRef, conv2dRef, type ConvGeometry } from "../reference/conv.ts";
import { initGpu } from "../tensor/_util.ts";
import { randomArray } from "./_spatial_fixtures.ts";

await initGpu();

const FWD = { atol: 2e-5, rtol: 1e-5 };
const GRAD = { atol: 1e-4, rtol: 1e-4 };

/** Labels of the kernels launched while `fn` runs. */
function launchedBy<R>(fn: () => R): { result: R; labels: string[] } {
  const rt = gpu();
  const labels: string[] = [];
  const launch = rt.launch;
  rt.launch = function (kernel, args) {
    labels.push(kernel.label);
    return launch.call(this, kernel, args);
  };
  try {
    return { result: fn(), labels };
  } finally {
    rt.launch = launch;
  }
}

interface PathCase {
  name: string;
  x: number[];
  w: number[];
  geo: ConvGeometry;
  /** Kernel label prefixes that must run in the "cpu" configuration. */
  cpu: string[];
  /** Kernel label prefixes that must run in the "gpu" configuration. */
  gpu: string[];
}

const geo = (
  s: [number, number],
  p: [number, number],
  d: [number, number] = [1, 1],
  groups = 1,
): ConvGeometry => ({ stride: s, padding: p, dilation: d, groups });

const CASES: PathCase[] = [
  {
    name: "depthwise 7x7 p3, 11 channels, batch 2, 19x13",
    x: [2, 11, 19, 13],
    w: [11, 1, 7, 7],
    geo: geo([1, 1], [3, 3], [1, 1], 11),
    cpu: [
      "depthwise_conv2d[kw7,dw1,bias,named,rows64,kh7]",
      "depthwise_conv2d[kw7,dw1,flip,named,rows64,kh7]",
      "depthwise_weight_grad_rows[kh7,kw7,dw1]",
    ],
    gpu: [
      "depthwise_conv2d[kw7,dw1,bias]",
      "depthwise_conv2d[kw7,dw1,flip]",
      "depthwise_weight_grad[kw7,dw1]",
    ],
  },
  {
    name:
      "depthwise 7x7 p3 over three 64-row strips (the last partial), 3 channels, batch 2, 131x10",
    x: [2, 3, 131, 10],
    w: [3, 1, 7, 7],
    geo: geo([1, 1], [3, 3], [1, 1], 3),
    cpu: [
      "depthwise_conv2d[kw7,dw1,bias,named,rows64,kh7]",
      "depthwise_conv2d[kw7,dw1,flip,named,rows64,kh7]",
    ],
    gpu: ["depthwise_conv2d[kw7,dw1,bias]", "depthwise_conv2d[kw7,dw1,flip]"],
  },
  {
    name: "depthwise 3x5 p(0,2) dilation (1,2), 5 channels, 37x9 (streamed, flipped padding 2)",
    x: [1, 5, 37, 9],
    w: [5, 1, 3, 5],
    geo: geo([1, 1], [0, 2], [1, 2], 5),
    cpu: [
      "depthwise_conv2d[kw5,dw2,bias,named,rows64,kh3]",
      "depthwise_conv2d[kw5,dw2,flip,named,rows64,kh3]",
    ],
    gpu: ["depthwise_conv2d[kw5,dw2,bias]", "depthwise_conv2d[kw5,dw2,flip]"],
  },
  {
    name: "depthwise 11x3 p(5,1), too tall to stream (4-row form), 4 channels, 13x7",
    x: [1, 4, 13, 7],
    w: [4, 1, 11, 3],
    geo: geo([1, 1], [5, 1], [1, 1], 4),
    cpu: [
      "depthwise_conv2d[kw3,dw1,bias,named,rows4]",
      "depthwise_conv2d[kw3,dw1,flip,named,rows4]",
    ],
    gpu: ["depthwise_conv2d[kw3,dw1,bias]", "depthwise_conv2d[kw3,dw1,flip]"],
  },
  {
    name: "depthwise 5x3 dilation (2,2) stride (2,1), 9 channels, 17x21",
    x: [1, 9, 17, 21],
    w: [9, 1, 5, 3],
    geo: geo([2, 1], [4, 2], [2, 2], 9),
    cpu: ["depthwise_weight_grad_rows[kh5,kw3,dw2]"],
    gpu: ["depthwise_weight_grad[kw3,dw2]"],
  },
  {
    name: "3x3 s2 p1, 5->19 channels, batch 2, odd 13x11",
    x: [2, 5, 13, 11],
    w: [19, 5, 3, 3],
    geo: geo([2, 2], [1, 1]),
    cpu: ["conv2d_forward_strided[tm16,vp1,sw2,kw3,dw1,bias]", "conv2d_weight_grad_wide[tm16,vc2]"],
    gpu: ["conv2d_forward[tm8,bias]", "conv2d_weight_grad[tm8]"],
  },
  {
    name: "3x3 s2 p1 on a wide odd row (two vec4s per lane, tail), 3->7 channels",
    x: [1, 3, 5, 101],
    w: [7, 3, 3, 3],
    geo: geo([2, 2], [1, 1]),
    cpu: ["conv2d_forward_strided[tm4,vp2,sw2,kw3,dw1,bias]"],
    gpu: ["conv2d_forward[tm4,bias]"],
  },
  {
    name: "5x3 stride (1,3) dilation (1,2) groups 2, 6->10 channels, 11x23",
    x: [1, 6, 11, 23],
    w: [10, 3, 5, 3],
    geo: geo([1, 3], [2, 1], [1, 2], 2),
    cpu: ["conv2d_forward_strided[tm4,vp1,sw3,kw3,dw2,bias]"],
    gpu: ["conv2d_forward[tm4,bias]"],
  },
  {
    name: "3x3 s1 p1, 17 channels (row kernel tails), batch 2, 7x9",
    x: [2, 4, 7, 9],
    w: [17, 4, 3, 3],
    geo: geo([1, 1], [1, 1]),
    cpu: ["conv2d_forward_row[tm16,vp1,bias,named]", "conv2d_weight_grad_wide[tm16,vc2]"],
    gpu: ["conv2d_forward_row[tm8,vp1,bias]", "conv2d_weight_grad[tm8]"],
  },
];

Deno.test("conv2d() runs each kernel path in both the cpu and gpu configurations", async () => {
  for (const c of CASES) {
    const x = { data: randomArray(c.x.reduce((a, b) => a * b), 51), shape: c.x };
    const w = { data: randomArray(c.w.reduce((a, b) => a * b), 52), shape: c.w };
    const b = randomArray(c.w[0], 53);
    const ref = conv2dRef(x, w, b, c.geo);
    const gout = randomArray(ref.data.length, 54);
    const gr = conv2dBackwardRef(x, w, { data: gout, shape: ref.shape }, c.geo);
    for (const config of ["cpu", "gpu"] as const) {
      const msg = `${c.name} (${config})`;
      const { result, labels } = launchedBy(() =>
        withConvConfig(config, () =>
          T.tidy(() => {
            const tx = T.tensor(Float32Array.from(x.data), x.shape, { requiresGrad: true });
            const tw = T.tensor(Float32Array.from(w.data), w.shape, { requiresGrad: true });
            const tb = T.tensor(Float32Array.from(b), [b.length], { requiresGrad: true });
            const y = conv2d(tx, tw, tb, c.geo);
            y.backward({ grad: T.tensor(Float32Array.from(gout), y.shape) });
            return { y, gx: tx.grad!, gw: tw.grad!, gb: tb.grad! };
          }))
      );
      for (const want of c[config]) {
        assert(labels.includes(want), `${msg}: ${want} did not run; ran ${labels.join(", ")}`);
      }
      assertEquals([...result.y.shape], ref.shape, `${msg} shape`);
      assertAllClose(await result.y.toArray(), ref.data, { ...FWD, msg: `${msg} forward` });
      assertAllClose(await result.gx.toArray(), gr.gx.data, { ...GRAD, msg: `${msg} grad x` });
      assertAllClose(await result.gw.toArray(), gr.gw.data, { ...GRAD, msg: `${msg} grad w` });
      [result.y, result.gx, result.gw, result.gb].forEach((t) => t.dispose());
    }
  }
});

Deno.test("weight-gradient tilings keep every split within llvmpipe's 65535-iteration loop cap", () => {
  // 3x3 64->64 at 256x256: 65536 pixels and enough invocations without splitting.
  const s: ConvShape = {
    n: 1,
    c: 64,
    h: 256,
    w: 256,
    o: 64,
    oh: 256,
    ow: 256,
    groups: 1,
    kh: 3,
    kw: 3,
    stride: [1, 1],
    padding: [1, 1],
    dilation: [1, 1],
  };
  for (const vc of [1, 2]) {
    const t = conv2dWeightGradTiling(s, 16, undefined, undefined, vc);
    assert(t.perSplit <= 65535, `vc ${vc}: ${t.perSplit} pixels per split`);
    assert(t.splits * t.perSplit >= 65536, `vc ${vc}: splits cover every pixel`);
  }
  // 76800 rows; 64 channels already fill the depthwise form's target without splitting.
  const dws = { ...s, n: 300, c: 64, o: 64, groups: 64 };
  for (
    const [name, d] of [
      ["depthwise rows", depthwiseWeightGradRowsTiling(dws)],
      ["depthwise", depthwiseWeightGradTiling(dws)],
    ] as const
  ) {
    assert(d.perSplit <= 65535, `${name}: ${d.perSplit} rows per split`);
    assert(d.splits * d.perSplit >= 300 * 256, `${name}: splits cover every row`);
    assertEquals(d.grid[1], d.splits, `${name}: one workgroup row per split`);
  }
});
