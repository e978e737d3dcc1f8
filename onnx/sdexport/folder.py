"""Write a model folder (onnx/README.md is the contract): four graphs, the token-embedding table, the
tokenizer and model.json."""
from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import time

import torch

from . import ExportError, graphs
from .architectures import CLIP_BOS, CLIP_EOS, vae_scale_factor
from .sources import Loaded

GRAPHS = ("text_encoder", "unet", "vae_encoder", "vae_decoder")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# The CLIP tokenizer every SD 1.x folder gets, shipped with the exporter (onnx/ is all the exporter image
# copies): built by onnx/build_tokenizer.py, identical to tests/fixtures/tiny-sd1/model/tokenizer/tokenizer.json.
SHIPPED_TOKENIZER = os.path.join(os.path.dirname(HERE), "tokenizer", "tokenizer.json")
TOKENIZER = "tokenizer/tokenizer.json"
TOKEN_EMBEDDINGS = "text_encoder/token_embedding.safetensors"


class Progress:
    """One line per stage on stderr: what was done, the stage's time, the total time and the peak memory."""

    def __init__(self, total: int, quiet: bool = False):
        self.total, self.n, self.quiet = total, 0, quiet
        self.t0 = self.last = time.monotonic()

    def __call__(self, what: str) -> None:
        self.n += 1
        now = time.monotonic()
        if not self.quiet:
            print(f"[{self.n}/{self.total}] {what} ({now - self.last:.1f} s; total {now - self.t0:.1f} s; "
                  f"peak RSS {peak_rss_gib():.1f} GiB)", file=sys.stderr, flush=True)
        self.last = now


def peak_rss_gib() -> float:
    """The process's peak resident memory so far (Linux: ru_maxrss in KiB); 0 where unknown."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not Linux
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)


def manifest(src: Loaded, name: str, graph_meta: dict) -> dict:
    a = src.arch
    factor = vae_scale_factor(a.vae)
    return {
        "format_version": 1,
        "name": name,
        "family": a.family,
        "prediction_type": a.prediction_type,
        "latent_channels": a.vae["latent_channels"],
        "unet_in_channels": a.unet["in_channels"],
        "vae_scale_factor": factor,
        "vae_scaling_factor": a.vae.get("scaling_factor", 0.18215),
        "default_image_size": a.unet["sample_size"] * factor,
        "text": {
            "hidden_size": a.text["hidden_size"],
            "max_length": a.text["max_position_embeddings"],
            "num_hidden_layers": a.text["num_hidden_layers"],
            "vocab_size": a.text["vocab_size"],
            "bos_token_id": CLIP_BOS,
            "eos_token_id": CLIP_EOS,
            "pad_token_id": CLIP_EOS,  # SD 1.x pads with EOS (SD 2.x: 0)
            "tokenizer": TOKENIZER,
            "token_embeddings": TOKEN_EMBEDDINGS,
        },
        "scheduler": dict(a.scheduler),
        "graphs": {k: graph_meta[k] for k in GRAPHS},
        "source": {
            "file_name": src.file_name,
            "sha256": src.sha256,
            "short_hash": src.sha256[:10] if src.sha256 else None,
        },
    }


def token_table(weight: torch.Tensor, fp16_graph: bool) -> torch.Tensor:
    """The token-embedding table as stored: float16 if the text encoder is float16, or if every value is
    exactly representable in float16 (a checkpoint stored in fp16, as most SD 1.x files are: then float16
    halves the file and loses nothing); float32 otherwise. The runtime converts it to the graph's precision."""
    w = weight.detach().float()
    half = w.half()
    exact = bool(torch.equal(half.float(), w))  # NaN never compares equal: stays float32
    return (half if fp16_graph or exact else w.clone()).contiguous()


def tokenizer_source(tokenizer: str | None) -> str:
    """The tokenizer.json to copy: --tokenizer FILE, else the one shipped in onnx/tokenizer/. Checked before
    the export starts, so that a missing file does not end an hour-long export."""
    path = tokenizer if tokenizer is not None else SHIPPED_TOKENIZER
    if not os.path.isfile(path):
        if tokenizer is None:
            raise ExportError(f"the CLIP tokenizer {path} is missing: restore it from the repository, or rebuild it "
                              "with `python onnx/build_tokenizer.py --out onnx/tokenizer`, or pass --tokenizer FILE")
        raise ExportError(f"tokenizer {tokenizer} does not exist")
    return path


def write_tokenizer(out_dir: str, source: str) -> None:
    dest = os.path.join(out_dir, TOKENIZER)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.abspath(source) != os.path.abspath(dest):
        shutil.copyfile(source, dest)


STAGES = 2 * len(GRAPHS) + 3  # trace each graph, finish each graph, token table, tokenizer, manifest


def export_folder(src: Loaded, out_dir: str, *, name: str | None = None, fp16: bool = False, fp16_vae: bool = False,
                  optimize: str | None = None, tokenizer: str | None = None, quiet: bool = False,
                  progress: Progress | None = None, free_torch: bool = False) -> dict:
    """Export everything into out_dir; returns the manifest (also written to out_dir/model.json).

    Two phases: every graph is first traced to float32 ONNX in a temporary folder; then each is converted /
    fused and saved. With free_torch, the torch modules are dropped from `src` between the phases, so the
    optimizer's copies of the SD 1.5 UNet do not sit beside the 4 GB of torch weights."""
    if optimize not in (None, "cuda"):
        raise ExportError(f"--optimize {optimize}: only 'cuda' is supported")
    progress = progress or Progress(STAGES, quiet)
    tokenizer = tokenizer_source(tokenizer)
    os.makedirs(out_dir, exist_ok=True)
    a = src.arch
    factor = vae_scale_factor(a.vae)
    dims = dict(hidden=a.text["hidden_size"], latent=a.vae["latent_channels"], unet_in=a.unet["in_channels"],
                factor=factor, unet_levels=len(a.unet["block_out_channels"]))
    # Eager attention: explicit MatMul/Add(mask)/Softmax, the pattern ORT's CLIP fusion knows.
    src.text.set_attn_implementation("eager")
    half = {kind: fp16 and (fp16_vae or not kind.startswith("vae")) for kind in GRAPHS}
    table = token_table(src.text.embeddings.token_embedding.weight, half["text_encoder"])
    meta = {}
    with graphs.make_tmp() as tmp:
        traced = {}
        for kind in GRAPHS:
            module = {"text_encoder": src.text, "unet": src.unet, "vae_encoder": src.vae, "vae_decoder": src.vae}[kind]
            traced[kind] = graphs.export(kind, module, graphs.dummy_inputs(kind, **dims), tmp)
            del module
            progress(f"{kind}: traced to float32 ONNX")
        if free_torch:
            src.unet = src.vae = src.text = None
            gc.collect()
        for kind in GRAPHS:
            how = ""
            timings: dict[str, float] = {}
            t = time.monotonic()
            if optimize:
                from .optimize import optimize_cuda

                heads = (a.text["num_attention_heads"], a.text["hidden_size"]) if kind == "text_encoder" else (0, 0)
                model, counts = optimize_cuda(traced[kind], kind, half[kind], *heads, timings=timings)
                how = "; fused for CUDA: " + ", ".join(f"{k} {v}" for k, v in counts.items())
            else:
                model = graphs.load(traced[kind])
                timings["load"] = time.monotonic() - t
                if half[kind]:
                    from .optimize import to_fp16

                    t = time.monotonic()
                    model = to_fp16(model)
                    timings["fp16"] = time.monotonic() - t
            file = f"{kind}/model.onnx"
            _remove_graph(out_dir, file)
            t = time.monotonic()
            written = graphs.save(model, os.path.join(out_dir, file))
            timings["save"] = time.monotonic() - t
            del model
            gc.collect()
            meta[kind] = {"file": file, "precision": "fp16" if half[kind] else "fp32",
                          "provider": "cuda" if optimize else "any"}
            took = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
            progress(f"{kind}: {meta[kind]['precision']}, provider {meta[kind]['provider']}, "
                     f"{' + '.join(written)}{how} [{took}]")

    from safetensors.torch import save_file

    save_file({"token_embedding": table}, os.path.join(out_dir, TOKEN_EMBEDDINGS))
    dtype = {torch.float16: "fp16", torch.float32: "fp32"}[table.dtype]
    lossless = " (every value exact in fp16)" if dtype == "fp16" and not half["text_encoder"] else ""
    progress(f"token embeddings: {TOKEN_EMBEDDINGS} {list(table.shape)} {dtype}{lossless}")
    write_tokenizer(out_dir, tokenizer)
    progress(f"tokenizer: {TOKENIZER}")
    m = manifest(src, name or src.default_name, meta)
    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(m, indent=2) + "\n")
    _readable(out_dir)
    progress(f"manifest: {os.path.join(out_dir, 'model.json')}")
    return m


def _readable(out_dir: str) -> None:
    """safetensors and onnx write some files 0600; a server running as another user must read them."""
    for dirpath, _, names in os.walk(out_dir):
        for n in names:
            os.chmod(os.path.join(dirpath, n), 0o644)


def _remove_graph(out_dir: str, file: str) -> None:
    """A re-export replaces the old graph and its external data (which may not be written again)."""
    for f in (file, file + ".data"):
        p = os.path.join(out_dir, f)
        if os.path.exists(p):
            os.remove(p)
