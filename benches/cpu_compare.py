#!/usr/bin/env python3
"""CPU, side by side, on the tiny model: the same txt2img job (Euler, 20 steps, CFG 7, 32×32 latents)
through three paths, each reporting the time per image and the share spent outside ONNX Runtime.

1. diffusers' OnnxStableDiffusionPipeline. It cannot load an sdgate folder directly: its text encoder
   takes token ids (int32) and returns last_hidden_state, ours takes token embeddings. So the text
   encoder is exported here in diffusers' layout from the same tiny checkpoint
   (tests/fixtures/tiny-sd1/checkpoint, through onnx/sdexport), and the pipeline runs our exact UNet and
   VAE graphs (same names and I/O as diffusers'). Its latents are height/8 × width/8 whatever the VAE, so
   it is asked for 256×256 to get the same 32×32 latents (the tiny VAE then decodes to 64×64).
2. "ORT from Python": benches/gpu/ortloop.py on our folder (the loop sdgate runs, written in NumPy).
3. `sdgate bench --parts e2e` on our folder (the device pool, as serve runs it).

Every path: one intra-op thread by default (--threads; the CI machine is small and shared), the PNG
encoded (a server sends PNGs), warm-up runs first, the trio repeated --rounds times with samples pooled.

    python benches/cpu_compare.py --sdgate target/release/sdgate --out bench-out/cpu
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "gpu"))
sys.path.insert(0, os.path.join(REPO, "onnx"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import benchcommon as bc  # noqa: E402
import numpy as np  # noqa: E402
import ortloop  # noqa: E402

FOLDER = os.path.join(REPO, "tests", "fixtures", "tiny-sd1", "model")
CHECKPOINT = os.path.join(REPO, "tests", "fixtures", "tiny-sd1", "checkpoint", "tiny-sd1.safetensors")
PROMPT = "a photograph of an astronaut riding a horse on mars, highly detailed"
NEGATIVE = "blurry, low quality"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sdgate", help="the sdgate binary (default: a release build under the target folder)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--size", type=int, default=64, help="image side for sdgate / ORT-from-Python (latents size/2)")
    ap.add_argument("--cfg-scale", type=float, default=7.0)
    ap.add_argument("--runs", type=int, default=10, help="timed images per path and round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="repeat the three paths, pooling the samples")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads for every path (0 = ORT's default)")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "sdgate-cpu-compare"),
                    help="where the diffusers-layout text encoder is exported (reused)")
    ap.add_argument("--out", default="bench-out/cpu")
    ap.add_argument("--card")
    return ap.parse_args(argv)


def find_sdgate(given: str | None) -> str:
    if given:
        return given
    roots = [os.environ.get("CARGO_TARGET_DIR"), os.path.join(REPO, "target"), "/work/target-shared"]
    for root in filter(None, roots):
        p = os.path.join(root, "release", "sdgate")
        if os.path.isfile(p):
            return p
    raise SystemExit("error: no release sdgate binary found; build one (cargo build --release) or pass --sdgate")


def export_text_encoder(work: str) -> str:
    """The tiny checkpoint's CLIP text model in diffusers' ONNX layout: input_ids int32 [B, 77] →
    last_hidden_state, pooler_output (as diffusers' convert_stable_diffusion_checkpoint_to_onnx.py)."""
    path = os.path.join(work, "text_encoder", "model.onnx")
    stamp = os.path.join(work, "text_encoder", "source")
    src_id = f"{CHECKPOINT} {os.path.getsize(CHECKPOINT)} {os.path.getmtime(CHECKPOINT)}"
    if os.path.isfile(path) and os.path.isfile(stamp) and open(stamp, encoding="utf-8").read() == src_id:
        return path
    import torch
    from sdexport.sources import from_checkpoint

    text = from_checkpoint(CHECKPOINT, "epsilon").text.eval()

    class Ids(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            o = self.m(input_ids=input_ids.long())
            return o.last_hidden_state, o.pooler_output

    os.makedirs(os.path.dirname(path), exist_ok=True)
    ids = torch.full((1, 77), 49407, dtype=torch.int32)
    with torch.no_grad():
        torch.onnx.export(Ids(text), (ids,), path, input_names=["input_ids"],
                          output_names=["last_hidden_state", "pooler_output"],
                          dynamic_axes={"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"},
                                        "pooler_output": {0: "batch"}}, opset_version=17, dynamo=False)
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(src_id)
    return path


class TimedSession:
    """Wraps an InferenceSession for diffusers' OnnxRuntimeModel: run() is timed, the rest forwarded."""

    def __init__(self, sess):
        self._sess = sess
        self.seconds = 0.0
        self.calls = 0

    def run(self, *args, **kw):
        t = time.perf_counter()
        out = self._sess.run(*args, **kw)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return out

    def take(self):
        s, c = self.seconds, self.calls
        self.seconds, self.calls = 0.0, 0
        return s, c

    def __getattr__(self, name):
        return getattr(self._sess, name)


def png(image) -> None:
    image.save(io.BytesIO(), format="PNG")


def diffusers_runs(a, text_path: str, seed0: int) -> list[dict]:
    import onnxruntime as ort
    import torch
    from diffusers import EulerDiscreteScheduler, OnnxRuntimeModel, OnnxStableDiffusionPipeline
    from diffusers.utils import logging as dlog
    from sdexport.architectures import SD1_SCHEDULER
    from transformers import CLIPTokenizer

    class Euler(EulerDiscreteScheduler):
        # The ONNX pipeline multiplies NumPy latents by this; diffusers' Euler keeps it as a tensor.
        @property
        def init_noise_sigma(self):
            return float(super().init_noise_sigma)

    dlog.set_verbosity_error()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    m = ortloop.load_manifest(FOLDER)
    so = ortloop.session_options(ort, a.threads)
    prov = ["CPUExecutionProvider"]
    sess = {
        "text_encoder": TimedSession(ort.InferenceSession(text_path, so, providers=prov)),
        "unet": TimedSession(ort.InferenceSession(os.path.join(FOLDER, m["graphs"]["unet"]["file"]), so, providers=prov)),
        "vae_decoder": TimedSession(ort.InferenceSession(os.path.join(FOLDER, m["graphs"]["vae_decoder"]["file"]), so,
                                                         providers=prov)),
        "vae_encoder": TimedSession(ort.InferenceSession(os.path.join(FOLDER, m["graphs"]["vae_encoder"]["file"]), so,
                                                         providers=prov)),
    }
    pipe = OnnxStableDiffusionPipeline(
        vae_encoder=OnnxRuntimeModel(model=sess["vae_encoder"]), vae_decoder=OnnxRuntimeModel(model=sess["vae_decoder"]),
        text_encoder=OnnxRuntimeModel(model=sess["text_encoder"]),
        tokenizer=CLIPTokenizer(tokenizer_file=os.path.join(FOLDER, m["text"]["tokenizer"]), model_max_length=77),
        unet=OnnxRuntimeModel(model=sess["unet"]), scheduler=Euler(**SD1_SCHEDULER, steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    side = (a.size // m["vae_scale_factor"]) * 8  # diffusers' ONNX pipeline assumes 8 pixels per latent
    seeds = iter(range(seed0, seed0 + 1_000_000))

    def one():
        t = time.perf_counter()
        out = pipe(PROMPT, negative_prompt=NEGATIVE, height=side, width=side, num_inference_steps=a.steps,
                   guidance_scale=a.cfg_scale, generator=np.random.RandomState(next(seeds)))
        png(out.images[0])
        total = time.perf_counter() - t
        graphs = {n: s.take() for n, s in sess.items() if n != "vae_encoder"}
        return {"total_s": total, "graphs": graphs, "image": out.images[0].size}

    runs = bc.timed_loop(a.warmup, a.runs, None, one)
    assert runs[0]["image"] == (a.size, a.size), runs[0]["image"]
    return runs


def ortloop_runs(a, seed0: int) -> list[dict]:
    sd = ortloop.OrtSD(FOLDER, "cpu", 0, a.threads)
    seeds = iter(range(seed0, seed0 + 1_000_000))
    return bc.timed_loop(a.warmup, a.runs, None,
                         lambda: sd.generate(PROMPT, NEGATIVE, a.size, a.steps, a.cfg_scale, next(seeds)))


def sdgate_run(a, binary: str, out: str, rnd: int) -> dict:
    cmd = [binary, "bench", "--parts", "e2e", "--size", str(a.size), "--steps", str(a.steps), "--sampler", "Euler",
           "--cfg-scale", str(a.cfg_scale), "--e2e-runs", str(a.runs), "--e2e-warmup", str(a.warmup),
           "--intra-threads", str(a.threads), "--out", out, "--tag", f"cpu-compare-{rnd}",
           "--data-dir", os.path.join(a.work, "sdgate-data")]
    if a.card:
        cmd += ["--card", a.card]
    env = dict(os.environ, RUST_LOG="warn")
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=900, check=False)
    if p.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    with open(os.path.join(out, f"sdgate-cpu-compare-{rnd}.json"), encoding="utf-8") as f:
        return json.load(f)


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg", encoding="utf-8").read().split()[:3])
    except OSError:
        return "?"


def main(argv=None) -> int:
    a = parse_args(argv)
    started = time.perf_counter()
    binary = find_sdgate(a.sdgate)
    os.makedirs(a.work, exist_ok=True)
    raw = os.path.join(a.out, "sdgate-runs")
    os.makedirs(raw, exist_ok=True)
    text_path = export_text_encoder(a.work)
    load_before = loadavg()
    diff, loop, sdg = [], [], []
    for rnd in range(a.rounds):
        seed0 = 1 + rnd * 10_000
        diff += diffusers_runs(a, text_path, seed0)
        loop += ortloop_runs(a, seed0)
        sdg.append(sdgate_run(a, binary, raw, rnd))
        print(f"[cpu-compare] round {rnd + 1}/{a.rounds} done", file=sys.stderr)
    load_after = loadavg()

    m = ortloop.load_manifest(FOLDER)
    model = {"dir": FOLDER, "name": m["name"], "source": m["source"]["file_name"],
             "precision": {g: v["precision"] for g, v in m["graphs"].items()},
             "graph_provider": {g: v["provider"] for g, v in m["graphs"].items()},
             "default_image_size": m["default_image_size"], "vae_scale_factor": m["vae_scale_factor"]}
    reports = []
    for tool, label, runs, extra in (
            ("diffusers-onnx", "diffusers OnnxStableDiffusionPipeline", diff,
             {"notes": ["text encoder exported in diffusers' layout (token ids in) from the same tiny checkpoint; "
                        "UNet and VAE decoder: our graphs", "asked for 256×256 so its latents are 32×32 like the others; "
                        "the image is 64×64", "scheduler: diffusers EulerDiscreteScheduler (SD 1.x config)"]}),
            ("ort-python", "ORT from Python (ortloop.py)", loop, {"notes": ["our graphs and sdgate's loop, in NumPy"]})):
        e = ortloop.e2e_section(runs, a.size, a.steps, a.cfg_scale, a.warmup, "Euler", "Automatic", bc.summary)
        e["runs_per_round"] = a.runs
        meta = bc.meta(a, a.card, False, 0, "cpu", model, ("onnxruntime", "diffusers", "torch"))
        meta["label"] = label
        reports.append(bc.report(tool, meta, started, e2e=e, memory=None, notes=extra["notes"]))
    # sdgate: one report per round; pool their per-image samples (the first round's metadata).
    total = [x for r in sdg for x in r["e2e"]["total_ms_samples"]]
    ort_ms = [x for r in sdg for x in r["e2e"]["ort_ms_samples"]]
    outside = [max(t - o, 0.0) for t, o in zip(total, ort_ms)]
    pooled = dict(sdg[0])
    pooled["meta"] = dict(sdg[0]["meta"], label="sdgate (device pool)")
    pe = dict(sdg[0]["e2e"])
    pe.update(runs=len(total), runs_per_round=a.runs, total_ms=bc.summary(total), ort_ms=bc.summary(ort_ms),
              outside_ms=bc.summary(outside), gateway_overhead=bc.summary([o / t for o, t in zip(outside, total)]),
              total_ms_samples=total, ort_ms_samples=ort_ms,
              ort_ms_by_graph={g: bc.summary([r["e2e"]["ort_ms_by_graph"][g]["median"] for r in sdg])
                               for g in sdg[0]["e2e"]["ort_ms_by_graph"]},
              conversion_ms=bc.summary([r["e2e"]["conversion_ms"]["median"] for r in sdg]))
    pe["pooled"] = "total/ort/outside: every image of every round; by graph and conversion: medians of the rounds"
    pooled["e2e"] = pe
    reports.append(pooled)

    rows = []
    for r in reports:
        e = r["e2e"]
        rows.append({"path": r["meta"]["label"], "per_image_p50_ms": e["total_ms"]["p50"],
                     "per_image_p95_ms": e["total_ms"]["p95"], "ort_ms": e["ort_ms"]["median"],
                     "outside_ms": e["outside_ms"]["median"],
                     "outside_share": e["gateway_overhead"]["median"], "images": e["runs"]})
    bundle = {"schema": "sdgate-cpu-compare/1", "date": bc.now(), "card": reports[0]["meta"]["card"],
              "host": bc.host(), "git_commit": bc.git_commit(), "sdgate": binary, "threads": a.threads,
              "steps": a.steps, "size": a.size, "latent": a.size // m["vae_scale_factor"], "rounds": a.rounds,
              "runs_per_round": a.runs, "warmup": a.warmup, "loadavg_before": load_before,
              "loadavg_after": load_after, "elapsed_s": time.perf_counter() - started, "table": rows,
              "reports": reports}
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "cpu-compare.json"), "w", encoding="utf-8") as f:
        json.dump(bundle, f, indent=2, default=str)
        f.write("\n")
    md = markdown(bundle)
    with open(os.path.join(a.out, "cpu-compare.md"), "w", encoding="utf-8") as f:
        f.write(md)
    print(md)
    return 0


def markdown(b: dict) -> str:
    out = [f"CPU: {b['card']}, {b['date']}, commit {b['git_commit'] or 'unknown'}; tiny-sd1, txt2img Euler "
           f"{b['steps']} steps, CFG 7, latents {b['latent']}×{b['latent']} (image {b['size']}×{b['size']}), "
           f"{b['threads'] or 'default'} intra-op thread(s), {b['rounds']} rounds × {b['runs_per_round']} images "
           f"after {b['warmup']} warm-up images per round, PNG encoded; load average {b['loadavg_before']} → "
           f"{b['loadavg_after']}.", "",
           "| path | per image p50 ms | p95 ms | inside ORT ms | outside ORT ms | share outside ORT | images |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in b["table"]:
        out.append(f"| {r['path']} | {r['per_image_p50_ms']:.1f} | {r['per_image_p95_ms']:.1f} | {r['ort_ms']:.1f} | "
                   f"{r['outside_ms']:.1f} | {100 * r['outside_share']:.1f} % | {r['images']} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
