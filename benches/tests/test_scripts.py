"""The benchmark scripts run on the CPU with the tiny model and write sdgate-bench/1 JSON; no timing is
asserted.  /work/main/.venv/bin/python -m pytest -q benches/tests   (about a minute on 2 cores)"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GPU = os.path.join(REPO, "benches", "gpu")
TINY = os.path.join(REPO, "tests", "fixtures", "tiny-sd1", "model")
sys.path.insert(0, GPU)

import benchcommon as bc  # noqa: E402
import report  # noqa: E402


def run(*args, timeout=300):
    p = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                       check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def load(path):
    with open(path, encoding="utf-8") as f:
        r = json.load(f)
    assert r["schema"] == "sdgate-bench/1"
    for k in ("date", "command_line", "card", "provider", "host", "model", "settings", "elapsed_s"):
        assert k in r["meta"], k
    return r


def check_summary(s, n):
    assert s["n"] == n
    assert s["p50"] == s["median"] and s["min"] <= s["median"] <= s["p95"] <= s["max"]


def test_summary_matches_numpy_percentiles():
    s = bc.summary([4, 1, 3, 2])
    assert (s["median"], round(s["p95"], 10), s["mean"]) == (2.5, 3.85, 2.5)
    assert bc.summary([]) is None and bc.summary([float("nan")]) is None


def test_ort_python_baseline_on_cpu_and_its_skip(tmp_path):
    out = str(tmp_path)
    run(os.path.join(GPU, "baseline_ort_python.py"), TINY, "--provider", "cpu", "--rows", "2,4", "--warmup", "1",
        "--iters", "2", "--e2e", "--steps", "2", "--runs", "2", "--e2e-warmup", "1", "--threads", "1",
        "--out", out)
    r = load(os.path.join(out, "ort-python-cpu-fp32.json"))
    assert r["tool"] == "ort-python" and "skipped" not in r
    rows = r["unet_steps"]["rows"]
    assert [x["rows"] for x in rows] == [2, 4] and [x["images"] for x in rows] == [1, 2]
    for x in rows:
        check_summary(x["ms"], 2)
        check_summary(x["host_io_ms"], 2)
    e = r["e2e"]
    assert e["runs"] == 2 and e["graph_calls_per_job"] == {"text_encoder": 2, "unet": 2, "vae_decoder": 1}
    for k in ("total_ms", "ort_ms", "outside_ms", "gateway_overhead"):
        check_summary(e[k], 2)
    assert os.path.isfile(os.path.join(out, "ort-python-cpu-fp32.md"))

    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        p = run(os.path.join(GPU, "baseline_ort_python.py"), TINY, "--provider", "cuda", "--out", out)
        assert "SKIPPED" in p.stderr
        assert "CUDAExecutionProvider" in load(os.path.join(out, "ort-python-cuda-fp32.json"))["skipped"]

    md = str(tmp_path / "all.md")
    p = run(os.path.join(GPU, "report.py"), out, "--md", md)
    assert "ort-python fp32" in p.stdout
    assert "## Comparison" in open(md, encoding="utf-8").read()


def test_torch_baseline_on_cpu(tmp_path):
    pytest.importorskip("diffusers")
    out = str(tmp_path)
    run(os.path.join(GPU, "baseline_torch.py"), "--arch", "tiny", "--device", "cpu", "--dtype", "fp32", "--size", "64",
        "--rows", "2", "--warmup", "1", "--iters", "2", "--steps", "2", "--runs", "2", "--e2e-warmup", "1",
        "--out", out)
    r = load(os.path.join(out, "torch-cpu-fp32.json"))
    assert r["tool"] == "torch"
    assert r["unet_steps"]["latent"] == [32, 32] and r["unet_steps"]["rows"][0]["rows"] == 2
    e = r["e2e"]
    assert e["ort_ms"] is None
    check_summary(e["module_ms"], 2)
    # diffusers' pipeline: one text-encoder call per prompt, one batch-2 UNet call per step, one decode.
    assert e["graph_calls_per_job"] == {"unet": 2, "text_encoder": 2, "vae_decoder": 1}
    assert report.short_table([r]).startswith("torch fp32 eager")
