import { assert, assertAllClose } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import { type Tensor, tensor } from "../../src/tensor/mod.ts";
import { AdamW } from "../../src/train/optim/adamw.ts";
import { clipGradNorm, gradNorm } from "../../src/train/optim/clip.ts";
import { adamwStepRef, clipGradNormRef } from "../reference/adamw.ts";
import { gap, get, loadOps, randn } from "../kernels/_torch_ops.ts";

await initGpu();

const f32 = (a: Float64Array) => new Float32Array(a);
const read = async (t: Tensor) => new Float64Array(await t.toArray());

Deno.test("AdamW.step() matches torch-ops adamw fixture over 3 steps (lr 1e-3, wd 0.1)", async () => {
  const f = loadOps("adamw");
  const V = "p37_3steps";
  const p = tensor(f32(get(f, `${V}/in.param`).data), [37], { requiresGrad: true });
  const opt = new AdamW([{ params: [p], lr: 1e-3, weightDecay: 0.1 }]);
  for (let s = 1; s <= 3; s++) {
    p.grad = tensor(f32(get(f, `${V}/in.grad_step${s}`).data), [37]);
    opt.step();
    const st = opt.state(p)!;
    assert(st.step === s, `step count ${st.step}`);
    // 3x PyTorch's own float32-vs-float64 gap per tensor and step.
    for (
      const [name, t] of [["param", p], ["exp_avg", st.expAvg], [
        "exp_avg_sq",
        st.expAvgSq,
      ]] as const
    ) {
      const key = `out.${name}_step${s}`;
      assertAllClose(await read(t), get(f, `${V}/${key}_f64`).data, {
        atol: 3 * gap(f, V, key),
        rtol: 0,
        msg: `${key}`,
      });
    }
    opt.zeroGrad();
  }
});

Deno.test("clipGradNorm() matches torch-ops clip_grad_norm fixture (clipping and coef clamped to 1)", async () => {
  const f = loadOps("clip_grad_norm");
  for (const [V, maxNorm] of [["max_norm_0.1", 0.1], ["max_norm_100_noclip", 100]] as const) {
    const params = [0, 1, 2].map((i) => {
      const p = tensor(f32(get(f, `${V}/in.param${i}`).data), get(f, `${V}/in.param${i}`).shape);
      p.grad = tensor(f32(get(f, `${V}/in.grad${i}`).data), p.shape);
      return p;
    });
    const norm = clipGradNorm(params, maxNorm);
    assert(norm.shape.length === 0, "total norm must be 0-dim");
    const tn = await norm.item();
    const want = get(f, `${V}/out.total_norm_f64`).data[0];
    // f32 sum of squares: 3x the fixture gap, at least 1e-7.
    const tol = Math.max(1e-7, 3 * gap(f, V, "out.total_norm"));
    assert(Math.abs(tn - want) <= tol, `total norm ours=${tn} | ref=${want}`);
    for (let i = 0; i < 3; i++) {
      assertAllClose(await read(params[i].grad!), get(f, `${V}/out.grad${i}_f64`).data, {
        atol: Math.max(1e-9, 3 * gap(f, V, `out.grad${i}`)),
        rtol: 0,
        msg: `${V} grad${i}`,
      });
    }
  }
});

Deno.test("AdamW.step() with fused gradScale equals clip then step; groups keep their own lr/wd", async () => {
  // Odd sizes spanning several workgroups and sum-of-squares chunks; one parameter without grad.
  const sizes = [5003, 17, 1, 9000];
  const init = sizes.map((n, i) => randn(n, 100 + i));
  const grads = sizes.map((n, i) => randn(n, 200 + i, 0.01));
  const mk = () =>
    init.map((d, i) => {
      const p = tensor(f32(d), [d.length], { requiresGrad: true });
      if (i !== 2) p.grad = tensor(f32(grads[i]), [d.length]);
      return p;
    });
  const a = mk(), b = mk();
  const groupsOf = (ps: Tensor[]) => [
    { params: [ps[0], ps[2]], lr: 1e-3, weightDecay: 0.1 },
    { params: [ps[1], ps[3]], lr: 3e-4, weightDecay: 0 },
  ];
  const oa = new AdamW(groupsOf(a)), ob = new AdamW(groupsOf(b));
  const maxNorm = 0.05;
  clipGradNorm(a, maxNorm);
  oa.step();
  const gn = gradNorm(b, maxNorm);
  ob.step({ gradScale: gn });
  // Reference.
  const g64 = grads.filter((_, i) => i !== 2).map((g) => Float64Array.from(g));
  clipGradNormRef(g64, maxNorm);
  const lr = [1e-3, 3e-4, 1e-3, 3e-4], wd = [0.1, 0, 0.1, 0];
  let gi = 0;
  for (let i = 0; i < sizes.length; i++) {
    const p = Float64Array.from(f32(init[i]));
    const m = new Float64Array(sizes[i]), v = new Float64Array(sizes[i]);
    if (i !== 2) {
      adamwStepRef(p, g64[gi++], m, v, 1, {
        lr: lr[i],
        weightDecay: wd[i],
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
      });
    }
    // One step moves each weight by <= lr; f32 rounding of ~1-sized params is ~1e-7.
    assertAllClose(await read(a[i]), p, { atol: 3e-7, rtol: 0, msg: `clip+step param ${i}` });
    assertAllClose(await read(b[i]), p, { atol: 3e-7, rtol: 0, msg: `fused param ${i}` });
    if (i === 2) continue;
    // Adam's first step is scale-invariant, so the clip shows in exp_avg (= 0.1·coef·g).
    for (const [o, ps] of [[oa, a], [ob, b]] as const) {
      assertAllClose(await read(o.state(ps[i])!.expAvg), m, {
        atol: 1e-9,
        rtol: 1e-5,
        msg: `m ${i}`,
      });
    }
  }
  assert(oa.state(a[2]) === undefined, "a parameter without grad got optimiser state");
});
