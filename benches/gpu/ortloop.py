"""Stable Diffusion txt2img on an sdgate model folder with ONNX Runtime from Python: the same graphs and the
same loop as sdgate (token-table lookup, text encoder for cond and uncond, N Euler steps of one batch-2
CFG UNet call each on the model's discrete k-diffusion sigmas, VAE decode, PNG encode), timed per graph.

This is "ORT from Python": what a thin Python server over ONNX Runtime pays. Needs numpy, onnxruntime,
safetensors (numpy API) and tokenizers; Pillow for the PNG (skipped without it).
"""
from __future__ import annotations

import io
import json
import os
import time

import numpy as np

NP = {"tensor(float16)": np.float16, "tensor(float)": np.float32, "tensor(int64)": np.int64}


def load_manifest(folder: str) -> dict:
    with open(os.path.join(folder, "model.json"), encoding="utf-8") as f:
        return json.load(f)


def session_options(ort, threads: int = 0):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads > 0:
        so.intra_op_num_threads = threads
    return so


def providers(provider: str, device_id: int, cuda_graph: bool = False):
    """The execution providers as sdgate configures them (CUDA: same device, arena kSameAsRequested,
    exhaustive cuDNN conv search; optionally CUDA graphs)."""
    if provider == "cuda":
        opts = {"device_id": device_id, "arena_extend_strategy": "kSameAsRequested",
                "cudnn_conv_algo_search": "EXHAUSTIVE"}
        if cuda_graph:
            opts["enable_cuda_graph"] = "1"
        return [("CUDAExecutionProvider", opts)]
    return ["CPUExecutionProvider"]


class Timed:
    """An InferenceSession whose run() time is summed (seconds) for the report."""

    def __init__(self, sess):
        self.sess = sess
        self.seconds = 0.0
        self.calls = 0
        self.types = {i.name: NP.get(i.type, np.float32) for i in sess.get_inputs()}

    def run(self, feeds: dict):
        feeds = {k: v.astype(self.types[k], copy=False) for k, v in feeds.items()}
        t = time.perf_counter()
        out = self.sess.run(None, feeds)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return out

    def take(self) -> tuple[float, int]:
        s, c = self.seconds, self.calls
        self.seconds, self.calls = 0.0, 0
        return s, c


def model_sigmas(m: dict, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """k-diffusion's DiscreteSchedule.get_sigmas(steps) for the manifest's noise schedule (the WebUI's
    "Automatic" schedule for Euler), with the timestep of each sigma."""
    sc = m["scheduler"]
    n = sc["num_train_timesteps"]
    if sc["beta_schedule"] == "scaled_linear":
        betas = np.linspace(sc["beta_start"] ** 0.5, sc["beta_end"] ** 0.5, n, dtype=np.float64) ** 2
    else:
        betas = np.linspace(sc["beta_start"], sc["beta_end"], n, dtype=np.float64)
    ac = np.cumprod(1.0 - betas)
    log_sigmas = np.log(((1 - ac) / ac) ** 0.5)
    t = np.linspace(n - 1, 0, steps)
    lo = np.floor(t).astype(int)
    hi = np.ceil(t).astype(int)
    w = t - lo
    sig = np.exp((1 - w) * log_sigmas[lo] + w * log_sigmas[hi])
    return np.append(sig, 0.0).astype(np.float32), t.astype(np.float32)


class OrtSD:
    """The four sessions of a folder and what the loop needs besides them."""

    def __init__(self, folder: str, provider: str = "cpu", device_id: int = 0, threads: int = 0):
        import onnxruntime as ort
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.m = m = load_manifest(folder)
        so = session_options(ort, threads)
        prov = providers(provider, device_id)
        g = m["graphs"]
        self.text = Timed(ort.InferenceSession(os.path.join(folder, g["text_encoder"]["file"]), so, providers=prov))
        self.unet = Timed(ort.InferenceSession(os.path.join(folder, g["unet"]["file"]), so, providers=prov))
        self.vae = Timed(ort.InferenceSession(os.path.join(folder, g["vae_decoder"]["file"]), so, providers=prov))
        table = load_file(os.path.join(folder, m["text"]["token_embeddings"]))["token_embedding"]
        self.table = table.astype(np.float32)
        self.tok = Tokenizer.from_file(os.path.join(folder, m["text"]["tokenizer"]))
        self.providers = self.unet.sess.get_providers()

    def ids(self, prompt: str) -> np.ndarray:
        t = self.m["text"]
        body = self.tok.encode(prompt, add_special_tokens=False).ids[: t["max_length"] - 2]
        ids = [t["bos_token_id"]] + body + [t["eos_token_id"]]
        ids += [t["pad_token_id"]] * (t["max_length"] - len(ids))
        return np.asarray(ids, dtype=np.int64)

    def generate(self, prompt: str, negative: str, size: int, steps: int, cfg: float, seed: int,
                 png: bool = True) -> dict:
        """One image; returns the seconds of the whole job and per graph."""
        m = self.m
        start = time.perf_counter()
        layer = np.array([1], dtype=np.int64)
        # One text-encoder call per prompt, as sdgate makes them.
        ctx = np.concatenate([self.text.run({"inputs_embeds": self.table[self.ids(p)][None], "layer_from_end": layer})[0]
                              for p in (negative, prompt)]).astype(np.float32)  # [2, 77, hidden]
        sigmas, ts = model_sigmas(m, steps)
        h = w = size // m["vae_scale_factor"]
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((1, m["latent_channels"], h, w)).astype(np.float32) * sigmas[0]
        for i in range(steps):
            s = float(sigmas[i])
            x_in = np.concatenate([x, x]) / np.sqrt(s * s + 1.0)
            eps = self.unet.run({"sample": x_in, "timestep": np.array([ts[i], ts[i]], dtype=np.float32),
                                 "encoder_hidden_states": ctx})[0].astype(np.float32)
            den = np.concatenate([x, x]) - eps * s
            denoised = den[:1] + cfg * (den[1:] - den[:1])
            d = (x - denoised) / s
            x = x + d * (float(sigmas[i + 1]) - s)
        img = self.vae.run({"latent_sample": x / m["vae_scaling_factor"]})[0].astype(np.float32)
        pixels = (np.clip((img[0] + 1) / 2, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)
        if png:
            try:
                from PIL import Image

                Image.fromarray(pixels).save(io.BytesIO(), format="PNG")
            except ImportError:
                pass
        total = time.perf_counter() - start
        graphs = {"text_encoder": self.text.take(), "unet": self.unet.take(), "vae_decoder": self.vae.take()}
        return {"total_s": total, "graphs": graphs}


def e2e_section(runs: list[dict], size: int, steps: int, cfg: float, warmup: int, sampler: str,
                scheduler: str, summary) -> dict:
    """The `e2e` part of a report from per-run dicts of {"total_s", "graphs": {name: (seconds, calls)}}."""
    total = [r["total_s"] * 1e3 for r in runs]
    ort_ms = [sum(v[0] for v in r["graphs"].values()) * 1e3 for r in runs]
    outside = [max(t - o, 0.0) for t, o in zip(total, ort_ms)]
    names = runs[0]["graphs"].keys() if runs else []
    return {
        "size": [size, size], "steps": steps, "sampler": sampler, "scheduler": scheduler, "cfg_scale": cfg,
        "batch_size": 1, "max_batch": 1, "warmup": warmup, "runs": len(runs),
        "total_ms": summary(total), "ort_ms": summary(ort_ms),
        "ort_ms_by_graph": {n: summary([r["graphs"][n][0] * 1e3 for r in runs]) for n in names},
        "graph_calls_per_job": {n: runs[0]["graphs"][n][1] for n in names},
        "outside_ms": summary(outside),
        "gateway_overhead": summary([o / t for o, t in zip(outside, total)]),
        "total_ms_samples": total,
        "ort_ms_samples": ort_ms,
    }
