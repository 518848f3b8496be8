#!/usr/bin/python3
"""Checks our .pt files against real PyTorch (Debian's python3-torch: run with /usr/bin/python3).

  torch_check.py compare A.pt B.pt [A2 B2 ...]
                                        torch.load each pair; exit 0 iff trees and tensors are
                                        bitwise identical (dtype, shape, bytes); prints JSON
  torch_check.py summary X.pt           prints a JSON summary of what torch.load returns
  torch_check.py load-sam2 X.pt CONFIG.yaml [REF]
                                        builds the reference SAM2Base from CONFIG's `model:`
                                        section (REF: the facebookresearch/sam2 checkout,
                                        default /work/ref) and loads X.pt with the reference's
                                        own build_sam._load_checkpoint (torch.load
                                        weights_only=True, strict load_state_dict)
  torch_check.py resume-adamw X.pt      loads X (a trainer-style checkpoint of a
                                        Linear(3, 2) model) the way the reference Trainer
                                        resumes: model.load_state_dict(strict) and
                                        AdamW.load_state_dict, then runs one step
  torch_check.py make-fixtures DIR      writes small .pt files our reader is tested on:
                                        every dtype, strided views, shared storages,
                                        Parameters, a trainer-style checkpoint, legacy format
"""
import collections
import json
import sys

import torch


def raw(t):
    """The tensor's bytes (contiguous, row-major), for a bitwise comparison."""
    t = t.detach().contiguous().reshape(-1)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return bytes(t.view(torch.uint8).tolist())


def load(path):
    """torch.load with weights_only=True (the restricted unpickler build_sam2 uses) when this
    torch's restricted unpickler can read the file, else a plain torch.load."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True), True
    except Exception:
        return torch.load(path, map_location="cpu"), False


def same(a, b, path, errs):
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            errs.append(f"{path}: tensor vs {type(b).__name__}")
        elif a.dtype != b.dtype or a.shape != b.shape:
            errs.append(f"{path}: {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}")
        elif raw(a) != raw(b):
            errs.append(f"{path}: bytes differ")
        elif a.requires_grad != b.requires_grad:
            errs.append(f"{path}: requires_grad {a.requires_grad} vs {b.requires_grad}")
        return
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a.keys()) != list(b.keys()):
            errs.append(f"{path}: keys differ: {list(a.keys())[:5]} vs {list(b.keys())[:5]}")
            return
        for k in a:
            same(a[k], b[k], f"{path}[{k!r}]", errs)
        return
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if type(a) != type(b) or len(a) != len(b):
            errs.append(f"{path}: {type(a).__name__}{len(a)} vs {type(b).__name__}{len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]", errs)
        return
    if type(a) != type(b) or a != b:
        errs.append(f"{path}: {a!r} vs {b!r}")


def summary(x):
    if isinstance(x, torch.Tensor):
        return {"tensor": str(x.dtype), "shape": list(x.shape), "requires_grad": x.requires_grad,
                "sum": float(x.double().sum()) if x.numel() else 0.0}
    if isinstance(x, dict):
        return {"dict": type(x).__name__, "items": {str(k): summary(v) for k, v in x.items()}}
    if isinstance(x, (list, tuple)):
        return {type(x).__name__: [summary(v) for v in x]}
    return {"value": repr(x)}


def make_fixtures(d):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    dtypes = {}
    for dt in [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64,
               torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool]:
        name = str(dt).replace("torch.", "")
        if dt == torch.bool:
            dtypes[name] = base > 0
        elif dt.is_floating_point:
            dtypes[name] = base.to(dt)
        else:
            dtypes[name] = (base * 50).to(dt)
    torch.save(dtypes, f"{d}/dtypes.pt")
    big = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    views = {
        "transposed": big.transpose(0, 2),  # non-contiguous, shares storage
        "sliced": big[1:, ::2, 1:4],
        "offset_row": big[2, 1],
        "full": big,
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "expanded": torch.tensor([1.0, 2.0]).expand(3, 2),
    }
    torch.save(views, f"{d}/views.pt")
    lin = torch.nn.Linear(3, 2)
    torch.save({"w": lin.weight, "b": torch.nn.Parameter(torch.ones(2), requires_grad=False)},
               f"{d}/params.pt")
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), weight_decay=0.1)
    model(torch.randn(2, 4, generator=g)).sum().backward()
    opt.step()
    torch.save({
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "loss": {},
        "steps": {"train": 120, "val": 0},
        "time_elapsed": 12.5,
        "best_meter_values": {"val/J&F": 0.75},
        "big_int": 2**40,
        "neg": -7,
        "none": None,
        "bytes": b"\x00\xffab",
    }, f"{d}/trainer.pt")
    torch.save({"x": torch.ones(2)}, f"{d}/legacy.pt", _use_new_zipfile_serialization=False)
    torch.save(views, f"{d}/legacy_views.pt", _use_new_zipfile_serialization=False)
    torch.save(torch.load(f"{d}/trainer.pt"), f"{d}/legacy_trainer.pt",
               _use_new_zipfile_serialization=False)
    expected = {}
    for name in ["dtypes", "views", "params", "trainer", "legacy_views", "legacy_trainer"]:
        flat = {}
        flatten(torch.load(f"{d}/{name}.pt"), "", flat)
        expected[name] = flat
    with open(f"{d}/expected.json", "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def flatten(x, path, out):
    """Leaves of a checkpoint by path ("/"-joined keys), values spelled out for JSON."""
    if isinstance(x, torch.Tensor):
        v = x.detach()
        if v.dtype in (torch.float16, torch.bfloat16):
            v = v.float()
        out[path] = {"dtype": str(x.dtype).replace("torch.", ""), "shape": list(x.shape),
                     "requires_grad": x.requires_grad, "values": v.flatten().tolist()}
    elif isinstance(x, dict):
        out[path + "#type"] = type(x).__name__
        for k, v in x.items():
            flatten(v, f"{path}/{k}", out)
    elif isinstance(x, (list, tuple)):
        out[path + "#type"] = type(x).__name__
        for i, v in enumerate(x):
            flatten(v, f"{path}/{i}", out)
    elif isinstance(x, bytes):
        out[path] = {"bytes": list(x)}
    else:
        out[path] = x


def load_sam2(path, config, ref):
    """Runs the reference's build_sam._load_checkpoint on a model built from `config`.

    hydra, omegaconf and iopath are not installed with Debian's torch; they are only used to
    find configs and open files, so they are replaced by stand-ins that change no math."""
    import importlib
    import re
    import types

    import yaml

    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules.setdefault(name, m)

    class GlobalHydra:
        @staticmethod
        def instance():
            return types.SimpleNamespace(is_initialized=lambda: True)

    module("hydra", initialize_config_module=lambda *a, **k: None, compose=None)
    module("hydra.core")
    module("hydra.core.global_hydra", GlobalHydra=GlobalHydra)
    module("hydra.utils", instantiate=None)
    module("omegaconf", OmegaConf=None)
    module("iopath")
    module("iopath.common")
    module("iopath.common.file_io", g_pathmgr=types.SimpleNamespace(open=open))
    sys.path.insert(0, ref)

    def instantiate(x):
        if isinstance(x, dict):
            x = {k: instantiate(v) for k, v in x.items()}
            target = x.pop("_target_", None)
            if target:
                mod, name = target.rsplit(".", 1)
                return getattr(importlib.import_module(mod), name)(**x)
            return x
        if isinstance(x, list):
            return [instantiate(v) for v in x]
        if isinstance(x, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", x):
            return float(x)  # PyYAML reads 1e-6 as a string; OmegaConf as a float
        return x

    with open(config) as f:
        model = instantiate(yaml.safe_load(f)["model"])
    from sam2.build_sam import _load_checkpoint

    _load_checkpoint(model, path)
    sd = torch.load(path, map_location="cpu", weights_only=True)["model"]
    differ = [k for k, v in model.state_dict().items() if raw(v) != raw(sd[k])]
    print(json.dumps({"loaded": True, "model": type(model).__name__,
                      "entries": len(model.state_dict()), "differ": differ[:10]}))
    return not differ


def resume_adamw(path):
    ckpt = torch.load(path, map_location="cpu")
    model = torch.nn.Linear(3, 2)
    model.load_state_dict(ckpt["model"], strict=True)
    opt = torch.optim.AdamW(model.parameters(), lr=0.5)
    opt.load_state_dict(ckpt["optimizer"])
    group = opt.param_groups[0]
    state = opt.state[model.weight]
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    print(json.dumps({
        "epoch": ckpt["epoch"], "steps": ckpt["steps"], "time_elapsed": ckpt["time_elapsed"],
        "lr": group["lr"], "betas": list(group["betas"]), "betas_type": type(group["betas"]).__name__,
        "step_after": float(state["step"]), "exp_avg_shape": list(state["exp_avg"].shape),
        "weight_finite": bool(torch.isfinite(model.weight).all()),
    }))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "compare":
        ok = True
        for pa, pb in zip(sys.argv[2::2], sys.argv[3::2]):
            a, a_safe = load(pa)
            b, b_safe = load(pb)
            errs = []
            same(a, b, "ckpt", errs)
            ok = ok and not errs
            print(json.dumps({"file": pb, "equal": not errs, "errors": errs[:20],
                              "weights_only": [a_safe, b_safe]}))
        sys.exit(0 if ok else 1)
    elif cmd == "summary":
        print(json.dumps(summary(load(sys.argv[2])[0])))
    elif cmd == "load-sam2":
        ok = load_sam2(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "/work/ref")
        sys.exit(0 if ok else 1)
    elif cmd == "resume-adamw":
        resume_adamw(sys.argv[2])
    elif cmd == "make-fixtures":
        make_fixtures(sys.argv[2])
    else:
        raise SystemExit(__doc__)
