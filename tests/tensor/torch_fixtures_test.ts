import { assertAllClose } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { fixtureCase, readSafetensors, TORCH_OPS } from "./_fixtures.ts";
import { initGpu } from "./_util.ts";

await initGpu();

type Fn = (xs: Record<string, T.Tensor>, call: string) => T.Tensor;

// Tolerances against PyTorch's float64 results (cases.json lists float32 PyTorch's own error,
// 1e-7..4e-7 here; ours are a few ulps more: different erf/exp polynomials).
const OPS: Record<string, { fn: Fn; atol: number; gradAtol: number }> = {
  softmax: { fn: ({ x }) => T.softmax(x), atol: 1e-6, gradAtol: 1e-6 },
  log_softmax: { fn: ({ x }) => T.logSoftmax(x), atol: 2e-5, gradAtol: 2e-6 },
  gelu_erf: { fn: ({ x }) => T.gelu(x), atol: 2e-6, gradAtol: 2e-6 },
  gelu_tanh: { fn: ({ x }) => T.geluTanh(x), atol: 2e-6, gradAtol: 2e-6 },
  sigmoid: { fn: ({ x }) => T.sigmoid(x), atol: 1e-6, gradAtol: 1e-6 },
  softplus: { fn: ({ x }) => T.softplus(x), atol: 2e-6, gradAtol: 1e-6 },
  layer_norm: {
    fn: ({ x, weight, bias }, call) => {
      const eps = Number(/eps=([0-9.e-]+)/.exec(call)![1]);
      return T.layerNorm(x, weight ?? null, bias ?? null, { eps });
    },
    atol: 1e-5,
    gradAtol: 1e-5,
  },
};

for (const [name, { fn, atol, gradAtol }] of Object.entries(OPS)) {
  Deno.test(`${name} matches PyTorch's float64 outputs and gradients (torch-ops fixture)`, async () => {
    const c = await fixtureCase(name);
    const file = await readSafetensors(new URL(c.file, TORCH_OPS));
    for (const v of c.variants) {
      const small = String(v.variant).includes("smallvar");
      const get = (n: string) => file.get(n)!;
      const { y, grads } = T.tidy(() => {
        const xs: Record<string, T.Tensor> = {};
        for (const [arg, spec] of Object.entries(v.inputs) as [string, { name: string }][]) {
          const f = get(spec.name);
          xs[arg] = T.tensor(f.data as Float32Array, f.shape, { requiresGrad: true });
        }
        const y = fn(xs, v.call);
        const g = get(v.gout.out);
        y.backward({ grad: T.tensor(g.data as Float32Array, g.shape) });
        return { y, grads: Object.fromEntries(Object.entries(xs).map(([k, t]) => [k, t.grad!])) };
      });
      const tol = small ? 50 : 1;
      assertAllClose(await y.toArray(), get(v.outputs.out.f64).data as Float64Array, {
        atol: atol * tol,
        rtol: 1e-5,
        msg: `${name}/${v.variant} out`,
      });
      for (const [arg, names] of Object.entries(v.grads) as [string, { f64: string }][]) {
        assertAllClose(await grads[arg].toArray(), get(names.f64).data as Float64Array, {
          atol: gradAtol * (small ? 5e4 : 1),
          rtol: small ? 1e-2 : 1e-5,
          msg: `${name}/${v.variant} grad.${arg}`,
        });
      }
    }
  });
}
