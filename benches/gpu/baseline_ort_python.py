#!/usr/bin/env python3
"""ONNX Runtime's own Python path on an sdgate model folder: the UNet step by CFG batch size with IoBinding
(tensors stay on the device; optionally CUDA graphs), and the same call with NumPy in and out (host copies,
as sdgate's Rust path makes them); optionally the whole txt2img loop from Python (benches/gpu/ortloop.py).

    python benches/gpu/baseline_ort_python.py /tmp/sd15-fp16 --provider cuda --out OUT [--cuda-graph] [--e2e]
    python benches/gpu/baseline_ort_python.py tests/fixtures/tiny-sd1/model --provider cpu --out OUT   # anywhere

Needs the CUDA build of ONNX Runtime for --provider cuda (PyPI onnxruntime-gpu 1.31.1). Without the CUDA
provider the run is skipped: a message, a JSON with "skipped", exit status 0.
Provider options as sdgate's: arena kSameAsRequested, exhaustive cuDNN convolution search.
Output: OUT/ort-python-<tag>.json (schema sdgate-bench/1) and .md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402
import ortloop  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="sdgate model folder (model.json + graphs)")
    ap.add_argument("--provider", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--device-id", type=int, default=0)
    ap.add_argument("--rows", default="2,4,8,16,32", help="UNet rows per call (2 per image), comma-separated")
    ap.add_argument("--size", type=int, help="image side (default: the folder's default_image_size)")
    ap.add_argument("--context-len", type=int, default=77)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--cuda-graph", action="store_true", help="enable_cuda_graph (one session per batch size)")
    ap.add_argument("--no-host-io", action="store_true", help="skip the NumPy-in/NumPy-out timing")
    ap.add_argument("--unet-tflop-per-row", type=float, help="TFLOP per UNet row (SD 1.5 at 64×64: 0.8035)")
    ap.add_argument("--e2e", action="store_true", help="also the txt2img loop from Python (ortloop.py)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cfg-scale", type=float, default=7.0)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--e2e-warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = ONNX Runtime's default)")
    ap.add_argument("--budget-secs", type=float, help="soft limit per timed loop")
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--tag", help="file name: ort-python-<tag>.json (default: <provider>-<precision>[-graph])")
    ap.add_argument("--card")
    return ap.parse_args(argv)


def unet_part(a, m, ort, probe):
    path = os.path.join(a.folder, m["graphs"]["unet"]["file"])
    so = ortloop.session_options(ort, a.threads)
    dev = "cuda" if a.provider == "cuda" else "cpu"
    size = a.size or m["default_image_size"]
    h = w = size // m["vae_scale_factor"]
    c, hidden = m["unet_in_channels"], m["text"]["hidden_size"]
    rng = np.random.default_rng(0)
    rows_out = []
    sess = None
    for rows in bc.csv_ints(a.rows):
        if sess is None or a.cuda_graph:  # a CUDA graph is captured for one shape: one session per batch size
            sess = None
            sess = ort.InferenceSession(path, so, providers=ortloop.providers(a.provider, a.device_id, a.cuda_graph))
        types = {i.name: ortloop.NP[i.type] for i in sess.get_inputs()}
        out_type = ortloop.NP[sess.get_outputs()[0].type]
        feeds = {
            "sample": rng.uniform(-1, 1, (rows, c, h, w)).astype(types["sample"]),
            "timestep": (999.0 - (np.arange(rows) * 37.5) % 999.0).astype(types["timestep"]),
            "encoder_hidden_states": rng.uniform(-1, 1, (rows, a.context_len, hidden)).astype(
                types["encoder_hidden_states"]),
        }
        binding = sess.io_binding()
        vals = {k: ort.OrtValue.ortvalue_from_numpy(v, dev, a.device_id) for k, v in feeds.items()}
        for k, v in vals.items():
            binding.bind_ortvalue_input(k, v)
        out = ort.OrtValue.ortvalue_from_shape_and_type([rows, m["latent_channels"], h, w], out_type, dev, a.device_id)
        binding.bind_ortvalue_output(sess.get_outputs()[0].name, out)

        def bound():
            t = time.perf_counter()
            sess.run_with_iobinding(binding)  # Run synchronises the device stream before it returns
            return (time.perf_counter() - t) * 1e3

        started = time.perf_counter()
        ms = bc.timed_loop(a.warmup, a.iters, a.budget_secs, bound)
        host_ms = None
        if not a.cuda_graph and not a.no_host_io:
            f32 = {k: v.astype(np.float32) for k, v in feeds.items()}

            def host():
                t = time.perf_counter()
                # As sdgate's Rust path: f32 → graph precision, run with host tensors, output → f32.
                o = sess.run(None, {k: v.astype(types[k]) for k, v in f32.items()})[0]
                o.astype(np.float32)
                return (time.perf_counter() - t) * 1e3

            host_ms = bc.timed_loop(1, a.iters, a.budget_secs, host)
        row = bc.unet_row(rows, ms, tflop_per_row=a.unet_tflop_per_row, wall_s=time.perf_counter() - started,
                          host_io_ms=bc.summary(host_ms) if host_ms else None)
        print(f"[ort-python] unet rows {rows}: median {row['ms']['median']:.3f} ms (IoBinding"
              f"{', CUDA graph' if a.cuda_graph else ''})"
              + (f", {row['host_io_ms']['median']:.3f} ms with NumPy in/out" if host_ms else ""), file=sys.stderr)
        rows_out.append(row)
        del binding, vals, out
    del sess
    probe.end("unet")
    return {"channels": c, "latent": [h, w], "context_len": a.context_len, "hidden": hidden, "warmup": a.warmup,
            "iters": a.iters, "tflop_per_row": a.unet_tflop_per_row,
            "timed": "InferenceSession.run_with_iobinding, inputs and output bound on the device"
                     + (" (enable_cuda_graph)" if a.cuda_graph else "")
                     + ("" if a.cuda_graph or a.no_host_io else "; host_io_ms: run() with NumPy in and out"),
            "rows": rows_out}


def e2e_part(a, m, probe):
    probe.begin()
    sd = ortloop.OrtSD(a.folder, a.provider, a.device_id, a.threads)
    size = a.size or m["default_image_size"]
    seeds = iter(range(1, 1_000_000))
    runs = bc.timed_loop(a.e2e_warmup, a.runs, a.budget_secs,
                         lambda: sd.generate("a photograph of an astronaut riding a horse on mars, highly detailed",
                                             "blurry, low quality", size, a.steps, a.cfg_scale, next(seeds)))
    e = ortloop.e2e_section(runs, size, a.steps, a.cfg_scale, a.e2e_warmup, "Euler", "Automatic", bc.summary)
    print(f"[ort-python] e2e: p50 {e['total_ms']['p50']:.1f} ms, p95 {e['total_ms']['p95']:.1f} ms, "
          f"outside ORT {100 * e['gateway_overhead']['median']:.1f} %", file=sys.stderr)
    del sd
    probe.end("e2e")
    return e


def main(argv=None) -> int:
    a = parse_args(argv)
    started = time.perf_counter()
    m = ortloop.load_manifest(a.folder)
    prec = m["graphs"]["unet"]["precision"]
    tag = a.tag or f"{a.provider}-{prec}{'-graph' if a.cuda_graph else ''}"
    model = {"dir": os.path.abspath(a.folder), "name": m["name"], "source": m["source"]["file_name"],
             "precision": {g: v["precision"] for g, v in m["graphs"].items()},
             "graph_provider": {g: v["provider"] for g, v in m["graphs"].items()},
             "default_image_size": m["default_image_size"], "vae_scale_factor": m["vae_scale_factor"]}
    meta = bc.meta(a, a.card, a.provider == "cuda", a.device_id, a.provider, model, ("onnxruntime",))
    meta["label"] = f"ort-python {prec}{' fused' if m['graphs']['unet']['provider'] == 'cuda' else ''}" \
                    f"{' cuda-graph' if a.cuda_graph else ''}"
    try:
        import onnxruntime as ort
    except ImportError as e:
        return skip(a, meta, started, tag, f"cannot import onnxruntime ({e})")
    if a.provider == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        return skip(a, meta, started, tag,
                    f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (providers: "
                    f"{', '.join(ort.get_available_providers())}); install onnxruntime-gpu 1.31.1 to run this baseline")
    if m["graphs"]["unet"]["provider"] == "cuda" and a.provider != "cuda":
        return skip(a, meta, started, tag, "the folder's graphs are fused for CUDA and need --provider cuda")
    probe = bc.MemoryProbe(a.provider == "cuda", a.device_id)
    probe.begin()
    unet = unet_part(a, m, ort, probe)
    e2e = e2e_part(a, m, probe) if a.e2e else None
    notes = ["UNet inputs: uniform random values; one timestep per row."]
    r = bc.report("ort-python", meta, started, unet_steps=unet, e2e=e2e, memory=probe.finish(), notes=notes)
    path = bc.write(r, a.out, f"ort-python-{tag}")
    print(f"results: {path}")
    return 0


def skip(a, meta, started, tag, why: str) -> int:
    print(f"SKIPPED baseline_ort_python: {why}", file=sys.stderr)
    r = bc.report("ort-python", meta, started, skipped=why)
    bc.write(r, a.out, f"ort-python-{tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
