#!/usr/bin/env python3
"""diffusers + torch on the same card and shapes as `sdgate bench`: the UNet step by CFG batch size (SDPA
attention, eager; optionally torch.compile) and the 512×512 20-step txt2img pipeline latency p50/p95
(diffusers' StableDiffusionPipeline, Euler or DPM++ 2M Karras), with random weights in the real
architecture. The modules are built from onnx/sdexport/architectures.py (the exporter's configs), so the
shapes and FLOPs are those of the folders `onnx/export.py --random sd15` makes.

    python benches/gpu/baseline_torch.py --out OUT                                  # sd15, cuda:0, fp16
    python benches/gpu/baseline_torch.py --compile --compile-rows 2 --out OUT       # + torch.compile
    python benches/gpu/baseline_torch.py --arch tiny --device cpu --dtype fp32 --size 64 --steps 4 --out OUT

Timing: CUDA events around each UNet call (after warm-up); the pipeline by wall clock with a device
synchronise, and the time inside the UNet / text encoder / VAE decoder by CUDA events around their calls
(`module_ms`, the counterpart of sdgate's time inside ONNX Runtime). cudnn.benchmark is on (sdgate's ONNX
Runtime sessions use the exhaustive cuDNN algorithm search too); --no-cudnn-benchmark turns it off.
Output: OUT/torch-<tag>.json (schema sdgate-bench/1) and .md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "onnx"))  # sdexport: the architectures
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import benchcommon as bc  # noqa: E402

PROMPT = "a photograph of an astronaut riding a horse on mars, highly detailed"
NEGATIVE = "blurry, low quality"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="sd15", choices=("sd15", "tiny"), help="architecture (sdexport.architectures)")
    ap.add_argument("--device", default="cuda:0", help="torch device (cuda:N or cpu)")
    ap.add_argument("--dtype", default="fp16", choices=("fp16", "bf16", "fp32"))
    ap.add_argument("--parts", default="unet,e2e", help="unet, e2e (comma-separated)")
    ap.add_argument("--rows", default="2,4,8,16,32", help="UNet rows per call (2 per image)")
    ap.add_argument("--size", type=int, help="image side (default: 512 for sd15, 64 for tiny)")
    ap.add_argument("--context-len", type=int, default=77)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile(unet) for --compile-rows")
    ap.add_argument("--compile-mode", default="default", help="torch.compile mode (default, max-autotune, ...)")
    ap.add_argument("--compile-rows", default="2", help="batch sizes to compile (each shape compiles anew)")
    ap.add_argument("--unet-tflop-per-row", type=float, help="TFLOP per UNet row (SD 1.5 at 64×64: 0.8035)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--sampler", default="euler", choices=("euler", "dpmpp_2m_karras"))
    ap.add_argument("--cfg-scale", type=float, default=7.0)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--e2e-warmup", type=int, default=2)
    ap.add_argument("--no-cudnn-benchmark", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget-secs", type=float, help="soft limit per timed loop")
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--tag", help="file name: torch-<tag>.json (default: <device type>-<dtype>)")
    ap.add_argument("--card")
    return ap.parse_args(argv)


class Clock:
    """Time a region on the device: CUDA events on a GPU, perf_counter on the CPU (milliseconds)."""

    def __init__(self, torch, device):
        self.torch, self.cuda = torch, device.type == "cuda"

    def start(self):
        if self.cuda:
            e = self.torch.cuda.Event(enable_timing=True)
            e.record()
            return e
        return time.perf_counter()

    def stop(self, started):
        if self.cuda:
            e = self.torch.cuda.Event(enable_timing=True)
            e.record()
            return (started, e)
        return (time.perf_counter() - started) * 1e3

    def ms(self, span) -> float:
        if self.cuda:
            a, b = span
            b.synchronize()
            return a.elapsed_time(b)
        return span

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()


def build(a, torch, device, dtype):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.utils import logging as dlog
    from sdexport.architectures import known

    dlog.set_verbosity_error()
    from transformers import CLIPTextConfig, CLIPTextModel

    arch = known(a.arch)
    torch.manual_seed(a.seed)
    with torch.device(device):  # initialise on the device: seconds instead of a minute on the CPU
        unet = UNet2DConditionModel(**arch.unet)
        vae = AutoencoderKL(**arch.vae)
        text = CLIPTextModel(CLIPTextConfig(**arch.text))
    return arch, unet.to(dtype).eval(), vae.to(dtype).eval(), text.to(dtype).eval()


def unet_part(a, torch, device, dtype, arch, unet, clock, probe):
    size = a.size
    f = 2 ** (len(arch.vae["block_out_channels"]) - 1)
    h = w = size // f
    c, hidden = arch.unet["in_channels"], arch.unet["cross_attention_dim"]
    g = torch.Generator(device="cpu").manual_seed(0)
    compiled = None
    if a.compile:
        compiled = torch.compile(unet, mode=None if a.compile_mode == "default" else a.compile_mode)
    compile_rows = set(bc.csv_ints(a.compile_rows)) if a.compile else set()
    rows_out = []
    for rows in bc.csv_ints(a.rows):
        x = (torch.rand((rows, c, h, w), generator=g) * 2 - 1).to(device, dtype)
        ctx = (torch.rand((rows, a.context_len, hidden), generator=g) * 2 - 1).to(device, dtype)
        t = (999.0 - (torch.arange(rows, dtype=torch.float32) * 37.5) % 999.0).to(device)

        def call(model):
            def go():
                s = clock.start()
                model(x, t, encoder_hidden_states=ctx, return_dict=False)
                return clock.ms(clock.stop(s))
            return go

        started = time.perf_counter()
        with torch.inference_mode():
            ms = bc.timed_loop(a.warmup, a.iters, a.budget_secs, call(unet))
            extra = {}
            if compiled is not None and rows in compile_rows:
                t0 = time.perf_counter()
                with torch.inference_mode():
                    call(compiled)()  # compiles
                extra["compile_s"] = time.perf_counter() - t0
                cms = bc.timed_loop(a.warmup, a.iters, a.budget_secs, call(compiled))
                extra["compiled_ms"] = bc.summary(cms)
        row = bc.unet_row(rows, ms, tflop_per_row=a.unet_tflop_per_row, wall_s=time.perf_counter() - started, **extra)
        if "compiled_ms" in extra:
            med = extra["compiled_ms"]["median"]
            row["compiled_steps_per_s"] = 1e3 / med
            row["compiled_tflops"] = a.unet_tflop_per_row * rows / (med / 1e3) if a.unet_tflop_per_row else None
        print(f"[torch] unet rows {rows}: median {row['ms']['median']:.3f} ms"
              + (f", compiled {extra['compiled_ms']['median']:.3f} ms (compile {extra['compile_s']:.0f} s)"
                 if "compiled_ms" in extra else ""), file=sys.stderr)
        rows_out.append(row)
        del x, ctx, t
    del compiled
    return {"channels": c, "latent": [h, w], "context_len": a.context_len, "hidden": hidden, "warmup": a.warmup,
            "iters": a.iters, "tflop_per_row": a.unet_tflop_per_row,
            "timed": "unet(...) in eager mode (SDPA attention), CUDA events"
                     + (f"; compiled_ms: torch.compile mode {a.compile_mode}" if a.compile else ""),
            "rows": rows_out}


def pipeline(a, torch, arch, unet, vae, text):
    from diffusers import DPMSolverMultistepScheduler, EulerDiscreteScheduler, StableDiffusionPipeline
    from diffusers.utils import logging as dlog
    from sdexport.architectures import SD1_SCHEDULER
    from transformers import CLIPTokenizer

    dlog.set_verbosity_error()
    tok = CLIPTokenizer(tokenizer_file=os.path.join(bc.REPO, "onnx", "tokenizer", "tokenizer.json"),
                        model_max_length=77)
    if a.sampler == "euler":
        sched = EulerDiscreteScheduler(**SD1_SCHEDULER, steps_offset=1)
        names = ("Euler", "Automatic")
    else:
        sched = DPMSolverMultistepScheduler(**SD1_SCHEDULER, steps_offset=1, algorithm_type="dpmsolver++", solver_order=2,
                                            use_karras_sigmas=True)
        names = ("DPM++ 2M", "Karras")
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe, names


def instrument(clock, modules: dict):
    """Record a device-time span around every call of each module (forward hooks; VAE decode patched)."""
    spans = {name: [] for name in modules}
    handles = []
    for name, (mod, method) in modules.items():
        if method is None:
            handles.append(mod.register_forward_pre_hook(lambda m, i, n=name: spans[n].append([clock.start()])))
            handles.append(mod.register_forward_hook(
                lambda m, i, o, n=name: spans[n][-1].append(clock.stop(spans[n][-1][0]))))
        else:
            orig = getattr(mod, method)

            def wrapped(*args, _orig=orig, _n=name, **kw):
                s = clock.start()
                out = _orig(*args, **kw)
                spans[_n].append([s, clock.stop(s)])
                return out
            setattr(mod, method, wrapped)
    return spans, handles


def e2e_part(a, torch, device, arch, unet, vae, text, clock):
    pipe, (sampler, scheduler) = pipeline(a, torch, arch, unet, vae, text)
    spans, _ = instrument(clock, {"unet": (unet, None), "text_encoder": (text, None), "vae_decoder": (vae, "decode")})
    seeds = iter(range(1, 1_000_000))

    def one():
        for v in spans.values():
            v.clear()
        gen = torch.Generator(device=device).manual_seed(next(seeds))
        clock.sync()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # random weights: NaN pixels are possible
            pipe(PROMPT, negative_prompt=NEGATIVE, height=a.size, width=a.size, num_inference_steps=a.steps,
                 guidance_scale=a.cfg_scale, generator=gen, output_type="pil")
        clock.sync()
        total = time.perf_counter() - t0
        graphs = {n: (sum(clock.ms(s[1]) for s in v if len(s) == 2) / 1e3, len(v)) for n, v in spans.items()}
        return {"total_s": total, "graphs": graphs}

    with torch.inference_mode():
        runs = bc.timed_loop(a.e2e_warmup, a.runs, a.budget_secs, one)
    total = [r["total_s"] * 1e3 for r in runs]
    inside = [sum(v[0] for v in r["graphs"].values()) * 1e3 for r in runs]
    outside = [max(t - i, 0.0) for t, i in zip(total, inside)]
    names = list(spans)
    e = {"size": [a.size, a.size], "steps": a.steps, "sampler": sampler, "scheduler": scheduler,
         "cfg_scale": a.cfg_scale, "batch_size": 1, "max_batch": 1, "warmup": a.e2e_warmup, "runs": len(runs),
         "total_ms": bc.summary(total), "ort_ms": None, "module_ms": bc.summary(inside),
         "module_ms_by_graph": {n: bc.summary([r["graphs"][n][0] * 1e3 for r in runs]) for n in names},
         "graph_calls_per_job": {n: runs[0]["graphs"][n][1] for n in names},
         "outside_ms": bc.summary(outside), "gateway_overhead": bc.summary([o / t for o, t in zip(outside, total)]),
         "total_ms_samples": total, "output": "PIL image (no PNG encoding)"}
    print(f"[torch] e2e: p50 {e['total_ms']['p50']:.1f} ms, p95 {e['total_ms']['p95']:.1f} ms, "
          f"outside the modules {100 * e['gateway_overhead']['median']:.1f} %", file=sys.stderr)
    return e


def main(argv=None) -> int:
    a = parse_args(argv)
    started = time.perf_counter()
    import torch

    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: CUDA is not available to torch (use --device cpu)", file=sys.stderr)
        return 2
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[a.dtype]
    a.size = a.size or (512 if a.arch == "sd15" else 64)
    parts = {p.strip() for p in a.parts.split(",") if p.strip()}
    if not parts <= {"unet", "e2e"}:
        print(f"error: --parts: unknown {sorted(parts - {'unet', 'e2e'})}", file=sys.stderr)
        return 2
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not a.no_cudnn_benchmark
        torch.cuda.set_device(device)
    device_id = device.index or 0 if device.type == "cuda" else 0
    probe = bc.MemoryProbe(device.type == "cuda", device_id)
    probe.begin()
    t0 = time.perf_counter()
    arch, unet, vae, text = build(a, torch, device, dtype)
    build_s = time.perf_counter() - t0
    procs = sorted({type(p).__name__ for p in unet.attn_processors.values()})
    model = {"dir": None, "name": f"random-{a.arch} (diffusers modules, seed {a.seed})", "source": "sdexport.architectures",
             "precision": {g: a.dtype for g in ("text_encoder", "unet", "vae_decoder")},
             "graph_provider": None, "default_image_size": a.size, "vae_scale_factor": 2 ** (len(arch.vae["block_out_channels"]) - 1)}
    meta = bc.meta(a, a.card, device.type == "cuda", device_id, f"torch {device.type}", model,
                   ("torch", "diffusers", "transformers"))
    meta["label"] = f"torch {a.dtype} eager" + (" (+compile)" if a.compile else "")
    clock = Clock(torch, device)
    mem_extra = lambda: ({"torch_max_allocated_mib": torch.cuda.max_memory_allocated(device) / 2**20,  # noqa: E731
                          "torch_max_reserved_mib": torch.cuda.max_memory_reserved(device) / 2**20}
                         if device.type == "cuda" else {})
    unet_steps = e2e = None
    if "unet" in parts:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        unet_steps = unet_part(a, torch, device, dtype, arch, unet, clock, probe)
        probe.end("unet", **mem_extra())
    if "e2e" in parts:
        probe.begin()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        e2e = e2e_part(a, torch, device, arch, unet, vae, text, clock)
        probe.end("e2e", **mem_extra())
    notes = [f"random weights (torch.manual_seed({a.seed})), modules built in {build_s:.1f} s on {device}",
             f"UNet attention processors: {', '.join(procs)}",
             f"cudnn.benchmark {'off' if a.no_cudnn_benchmark or device.type != 'cuda' else 'on'}",
             "VAE in the same dtype as the UNet (diffusers' usual fp16 pipeline; sdgate's fp16 folders keep an fp32 VAE)"]
    r = bc.report("torch", meta, started, unet_steps=unet_steps, e2e=e2e, memory=probe.finish(), notes=notes)
    tag = a.tag or f"{device.type}-{a.dtype}"
    path = bc.write(r, a.out, f"torch-{tag}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
