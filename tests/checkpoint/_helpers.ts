/** Shared helpers for the checkpoint tests: fixture paths, tree flattening, a torch probe. */
import { isHostTensor, toFloat32, typedView } from "../../src/checkpoint/host_tensor.ts";
import { PyDict, PyFloat, PyTuple } from "../../src/checkpoint/py_value.ts";

/** The shared fixtures folder (../shared/fixtures from the repo root). */
export const SHARED = new URL("../../../shared/fixtures/", import.meta.url);
/** sam2-mini/model.pt: torch.save({"model": state_dict}), 371 entries. */
export const MODEL_PT = new URL("sam2-mini/model.pt", SHARED).pathname;
/** The small torch-written files of tests/checkpoint/fixtures. */
export const LOCAL = new URL("./fixtures/", import.meta.url);
export const local = (name: string) => new URL(name, LOCAL).pathname;

/** Leaves by "/"-joined path, tensors spelled out like scripts/torch_check.py's flatten. */
export function flatten(x: unknown, path = "", out: Record<string, unknown> = {}) {
  if (isHostTensor(x)) {
    let values: unknown[];
    if (x.dtype === "bool") values = [...x.data].map((b) => b !== 0);
    else if (x.dtype === "int64") values = [...(typedView(x) as BigInt64Array)].map(Number);
    else if (x.dtype === "float16" || x.dtype === "bfloat16") values = [...toFloat32(x)];
    else values = Array.from(typedView(x) as ArrayLike<number>);
    out[path] = {
      dtype: x.dtype,
      shape: x.shape,
      requires_grad: x.requiresGrad === true,
      values,
    };
  } else if (x instanceof Map) {
    out[path + "#type"] = x instanceof PyDict && x.ordered ? "OrderedDict" : "dict";
    for (const [k, v] of x) flatten(v, `${path}/${String(k)}`, out);
  } else if (Array.isArray(x)) {
    out[path + "#type"] = x instanceof PyTuple ? "tuple" : "list";
    x.forEach((v, i) => flatten(v, `${path}/${i}`, out));
  } else if (x instanceof Uint8Array) {
    out[path] = { bytes: [...x] };
  } else if (x instanceof PyFloat) {
    out[path] = x.value;
  } else {
    out[path] = x;
  }
  return out;
}

let torchProbe: boolean | undefined;
/**
 * True when Debian's /usr/bin/python3 can import torch (the by-hand interop check).
 * SAM2_NO_TORCH=1 forces false, to check the suite passes where torch is absent.
 */
export function hasTorch(): boolean {
  if (Deno.env.get("SAM2_NO_TORCH") === "1") return false;
  if (torchProbe === undefined) {
    try {
      torchProbe = new Deno.Command("/usr/bin/python3", {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).outputSync().success;
    } catch {
      torchProbe = false;
    }
  }
  return torchProbe;
}

/** Runs scripts/torch_check.py with /usr/bin/python3; returns exit code and stdout. */
export async function torchCheck(...args: string[]): Promise<{ code: number; out: string }> {
  const script = new URL("../../scripts/torch_check.py", import.meta.url).pathname;
  const r = await new Deno.Command("/usr/bin/python3", { args: [script, ...args] }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** A fresh temporary folder, removed by the returned function. */
export async function tempDir(): Promise<[string, () => Promise<void>]> {
  const dir = await Deno.makeTempDir({ prefix: "ckpt_test_" });
  return [dir, () => Deno.remove(dir, { recursive: true })];
}
