#!/usr/bin/env python3
"""Smoke test of an exported model folder on ONNX Runtime's CUDA provider.

Runs each graph of the folder (onnx/README.md) on random inputs of the contract's shapes with the
CUDAExecutionProvider and checks: the session really runs on CUDA (no silent fallback to the CPU
provider; from the session's profile, no compute-heavy operator on the CPU provider), the outputs have
the contract's shape and element type, and are finite. Also:

- fp32 graphs with provider `any`: the same inputs on the CPU provider; CUDA must match it to --tol
  (relative to max(1, max |CPU output|); TF32 is switched off for this comparison).
- --reference DIR (a folder of the same weights with provider `any`, e.g. the fp32 export of the same
  checkpoint or `--random sd15 --seed N`): every graph is also run there on the CPU and compared. This is
  how fused (`provider: cuda`) and fp16 graphs are checked; fp16 differences are reported, and fail only
  beyond --fp16-tol if given.
- fp16 UNets: the `timestep` input is float32 (the contract) and 999.25 gives another output than 999
  (a float16 timestep would round it to 999).
- Timings: the first run (with cuDNN's algorithm search) and the second.

    python onnx/gpu_smoke.py models/sd15-fp16 --reference models/sd15-fp32
    python onnx/gpu_smoke.py models/sd15-fp32                       # fp32, provider any: CUDA vs CPU
    python onnx/gpu_smoke.py tests/fixtures/tiny-sd1/model --cpu-only  # the script itself, anywhere

Exit status 0 if every check passed, 1 if one failed, 2 if the CUDA provider is not available (unless
--cpu-only: then graphs with provider `any` run on the CPU and fused graphs are skipped).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

GRAPHS = ("text_encoder", "unet", "vae_encoder", "vae_decoder")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def load_manifest(folder: str) -> dict:
    with open(os.path.join(folder, "model.json"), encoding="utf-8") as f:
        return json.load(f)


def make_inputs(m: dict, kind: str, batch: int, image: int, seed: int) -> dict[str, np.ndarray]:
    """float32 inputs of the contract's shapes (converted to each graph's precision when fed)."""
    rng = np.random.default_rng(seed)
    hidden, f, c = m["text"]["hidden_size"], m["vae_scale_factor"], m["latent_channels"]
    h = w = image // f
    if kind == "text_encoder":
        return {"inputs_embeds": (0.02 * rng.standard_normal((batch, 77, hidden))).astype(np.float32),
                "layer_from_end": np.array([2], dtype=np.int64)}
    if kind == "unet":
        t = np.linspace(999.0, 1.5, batch, dtype=np.float32)
        return {"sample": rng.standard_normal((batch, m["unet_in_channels"], h, w)).astype(np.float32),
                "timestep": t, "encoder_hidden_states": rng.standard_normal((batch, 77, hidden)).astype(np.float32)}
    if kind == "vae_encoder":
        return {"sample": rng.uniform(-1, 1, (1, 3, h * f, w * f)).astype(np.float32)}
    return {"latent_sample": rng.standard_normal((1, c, h, w)).astype(np.float32)}


def expected_shape(m: dict, kind: str, batch: int, inputs: dict[str, np.ndarray]) -> tuple[int, ...]:
    f, c = m["vae_scale_factor"], m["latent_channels"]
    if kind == "text_encoder":
        return (batch, 77, m["text"]["hidden_size"])
    if kind == "unet":
        return (batch, c) + inputs["sample"].shape[2:]
    if kind == "vae_encoder":
        return (1, 2 * c) + tuple(d // f for d in inputs["sample"].shape[2:])
    return (1, 3) + tuple(d * f for d in inputs["latent_sample"].shape[2:])


def feeds_for(session, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cast each input to the element type the graph declares (float16 / float32 / int64)."""
    types = {"tensor(float16)": np.float16, "tensor(float)": np.float32, "tensor(int64)": np.int64}
    return {i.name: inputs[i.name].astype(types[i.type]) for i in session.get_inputs()}


def open_session(path: str, provider: str, tf32: bool, profile_dir: str | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if profile_dir:  # the profile says which provider ran each node
        opts.enable_profiling = True
        opts.profile_file_prefix = os.path.join(profile_dir, "profile")
    if provider != CUDA:
        return ort.InferenceSession(path, opts, providers=[CPU])
    try:
        return ort.InferenceSession(path, opts, providers=[(CUDA, {"use_tf32": "1" if tf32 else "0"}), CPU])
    except Exception as e:  # noqa: BLE001 - an ONNX Runtime without the use_tf32 option
        if "tf32" not in str(e).lower():
            raise
        print(f"  note: CUDA option use_tf32 refused ({e}); running with the provider's default")
        return ort.InferenceSession(path, opts, providers=[CUDA, CPU])


# Compute-heavy operators that must not run on the CPU provider in a CUDA session. (ORT puts small shape
# computations, Shape/Gather/Concat/... on int64, on the CPU on purpose: those are listed, not failed.)
HEAVY = {"Conv", "NhwcConv", "ConvTranspose", "MatMul", "Gemm", "Attention", "MultiHeadAttention", "GroupNorm",
         "SkipGroupNorm", "LayerNormalization", "SkipLayerNormalization", "InstanceNormalization", "Softmax",
         "Resize", "BiasSplitGelu", "BiasAdd", "BiasGelu", "QuickGelu", "Gelu", "FastGelu", "Einsum"}


def placement(session) -> dict[str, dict[str, int]]:
    """{provider: {op_type: nodes}} from the session's profile (ends profiling)."""
    path = session.end_profiling()
    with open(path, encoding="utf-8") as f:
        events = json.load(f)
    os.remove(path)
    nodes: dict[str, tuple[str, str]] = {}
    for e in events:
        a = e.get("args", {})
        if e.get("cat") == "Node" and "provider" in a and "op_name" in a:
            nodes[e["name"]] = (a["provider"], a["op_name"])
    out: dict[str, dict[str, int]] = {}
    for prov, op in nodes.values():
        out.setdefault(prov, {})
        out[prov][op] = out[prov].get(op, 0) + 1
    return {p: dict(sorted(ops.items())) for p, ops in sorted(out.items())}


def rel_diff(got: np.ndarray, want: np.ndarray) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / max(1.0, float(np.max(np.abs(want)))))


class Report:
    def __init__(self):
        self.failed = 0

    def check(self, ok: bool, what: str) -> bool:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        self.failed += 0 if ok else 1
        return ok


def run_graph(r: Report, folder: str, m: dict, kind: str, args, provider: str, reference: str | None,
              tmp: str) -> None:
    g = m["graphs"][kind]
    path = os.path.join(folder, g["file"])
    print(f"{kind}: {g['file']} ({g['precision']}, provider {g['provider']}) on {provider}", flush=True)
    if g["provider"] == "cuda" and provider != CUDA:
        print("  skip (fused graph: needs the CUDA provider)")
        return
    compare_cpu = provider == CUDA and g["precision"] == "fp32" and g["provider"] == "any" and not args.no_cpu
    t = time.monotonic()
    try:
        s = open_session(path, provider, tf32=not compare_cpu, profile_dir=tmp)
    except Exception as e:  # noqa: BLE001 - ONNX Runtime raises its own types
        r.check(False, f"session: {e}")
        return
    r.check(s.get_providers()[0] == provider,
            f"session on {s.get_providers()[0]}, created in {time.monotonic() - t:.1f} s")
    inputs = make_inputs(m, kind, args.batch, args.image_size, args.seed)
    feeds = feeds_for(s, inputs)
    if kind == "unet":
        r.check(feeds["timestep"].dtype == np.float32, f"timestep input is {feeds['timestep'].dtype} (contract: float32)")
    times = []
    for _ in range(2):
        t = time.monotonic()
        out = s.run(None, feeds)[0]
        times.append(time.monotonic() - t)
    want_dtype = np.float16 if g["precision"] == "fp16" else np.float32
    shape = expected_shape(m, kind, args.batch, inputs)
    r.check(out.shape == shape and out.dtype == want_dtype,
            f"output {out.dtype}{list(out.shape)} (want {np.dtype(want_dtype)}{list(shape)}); "
            f"run 1 {times[0] * 1e3:.0f} ms, run 2 {times[1] * 1e3:.0f} ms")
    where = placement(s)
    if provider == CUDA:
        on_cpu = where.get(CPU, {})
        heavy = {op: n for op, n in on_cpu.items() if op in HEAVY}
        r.check(not heavy, f"nodes per provider {where}" + (f"; HEAVY OPS ON CPU: {heavy}" if heavy else ""))
    r.check(bool(np.isfinite(out).all()), f"finite (max |out| {float(np.max(np.abs(out.astype(np.float32)))):.3g})")
    if kind == "unet" and g["precision"] == "fp16":
        a = s.run(None, {**feeds, "timestep": np.full_like(feeds["timestep"], 999.0)})[0]
        b = s.run(None, {**feeds, "timestep": np.full_like(feeds["timestep"], 999.25)})[0]
        r.check(not np.array_equal(a, b), "timestep 999.25 and 999 give different outputs (float32 timestep)")
    if compare_cpu:
        cpu = open_session(path, CPU, tf32=False)
        t = time.monotonic()
        want = cpu.run(None, feeds)[0]
        d = rel_diff(out, want)
        r.check(d <= args.tol, f"CUDA vs CPU: max |diff| / max(1, max|CPU|) = {d:.2e} (tol {args.tol:g}; "
                f"CPU run {time.monotonic() - t:.1f} s)")
    if reference:
        rm = load_manifest(reference)
        rg = rm["graphs"][kind]
        if rg["provider"] != "any":
            r.check(False, f"reference {reference}: {kind} has provider {rg['provider']}: it must be `any` (runs on CPU)")
            return
        ref = open_session(os.path.join(reference, rg["file"]), CPU, tf32=False)
        want = ref.run(None, feeds_for(ref, inputs))[0]
        d = rel_diff(out, want)
        tol = args.fp16_tol if g["precision"] == "fp16" else args.tol
        what = f"vs reference {rg['precision']} on CPU: max |diff| / max(1, max|ref|) = {d:.2e}"
        if tol is None:
            print(f"  info {what} (float16: reported only, see --fp16-tol)")
        else:
            r.check(d <= tol, f"{what} (tol {tol:g})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="exported model folder (model.json and the graphs)")
    ap.add_argument("--reference", metavar="DIR", help="folder of the same weights with provider `any`, run on the "
                    "CPU and compared with (fp32 export of the same checkpoint / the same --random seed)")
    ap.add_argument("--image-size", type=int, default=None, help="image side in pixels (default: the manifest's "
                    "default_image_size, 512 for SD 1.x)")
    ap.add_argument("--batch", type=int, default=2, help="batch of the text encoder and UNet (default 2)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    ap.add_argument("--tol", type=float, default=1e-3, help="fp32 comparisons (default 1e-3)")
    ap.add_argument("--fp16-tol", type=float, default=None, help="fail fp16 comparisons above this (default: report)")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU comparison of fp32 graphs (slow for SD 1.5)")
    ap.add_argument("--cpu-only", action="store_true", help="no CUDA here: run the graphs with provider `any` on "
                    "the CPU provider (checks the script and a folder, not the GPU)")
    args = ap.parse_args(argv)

    import onnxruntime as ort

    m = load_manifest(args.folder)
    args.image_size = args.image_size or m["default_image_size"]
    available = ort.get_available_providers()
    print(f"onnxruntime {ort.__version__}, providers {available}; {args.folder}: {m['name']}, image "
          f"{args.image_size}x{args.image_size}, batch {args.batch}", flush=True)
    if CUDA not in available and not args.cpu_only:
        print(f"error: {CUDA} is not available in this onnxruntime (install onnxruntime-gpu; or --cpu-only)",
              file=sys.stderr)
        return 2
    provider = CPU if args.cpu_only else CUDA
    r = Report()
    with tempfile.TemporaryDirectory(prefix="gpu-smoke-") as tmp:
        for kind in GRAPHS:
            run_graph(r, args.folder, m, kind, args, provider, args.reference, tmp)
    print("all checks passed" if not r.failed else f"{r.failed} checks FAILED", flush=True)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
