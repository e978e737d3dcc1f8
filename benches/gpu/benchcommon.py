"""What every benchmark script here shares with `sdgate bench`: the JSON schema (`sdgate-bench/1`), the
summary statistics (NumPy's linear percentiles, as the Rust tool computes them), the run's metadata (date,
card, host, commit) and the GPU memory sampler (nvidia-smi, like the Rust tool).

Standard library and NumPy only, so it imports on the GPU machine and in CI alike.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time

import numpy as np

SCHEMA = "sdgate-bench/1"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def summary(samples) -> dict | None:
    """n, median (= p50), p95, mean, min, max of the samples (NaN ignored); None for none."""
    v = np.asarray([float(x) for x in samples], dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None
    p50, p95 = np.percentile(v, [50, 95])  # linear interpolation, as the Rust tool
    return {"n": int(v.size), "median": float(p50), "p50": float(p50), "p95": float(p95),
            "mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}


def run_quiet(cmd: list[str], timeout: float = 10.0) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def gpu_names() -> list[str]:
    out = run_quiet(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
    return [line.strip() for line in out.splitlines() if line.strip()] if out else []


def host() -> dict:
    return {"cpu": cpu_model(), "threads": os.cpu_count() or 1, "os": f"{sys.platform} {platform.machine()}",
            "gpus": gpu_names()}


def card(given: str | None, gpu: bool, device_id: int, h: dict) -> str:
    """`given`, else nvidia-smi's name of the GPU (GPU runs), else the CPU with its thread count."""
    if given and given.strip():
        return given.strip()
    if gpu and 0 <= device_id < len(h["gpus"]):
        return h["gpus"][device_id]
    return f"{h['cpu']} ({h['threads']} threads)"


def git_commit() -> str | None:
    env = os.environ.get("SDGATE_GIT_COMMIT", "").strip()
    if env:
        return env
    head = run_quiet(["git", "-C", REPO, "rev-parse", "HEAD"])
    if head is None:
        return None
    dirty = run_quiet(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"])
    return f"{head}-dirty" if dirty else head


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def versions(*modules: str) -> dict:
    out = {"python": platform.python_version()}
    for name in modules:
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__version__", "?")
        except Exception:  # noqa: BLE001 - a missing package is recorded, not fatal
            out[name] = None
    return out


def meta(tool_args, card_name: str | None, gpu: bool, device_id: int, provider: str, model: dict,
         extra_versions: tuple[str, ...] = ()) -> dict:
    h = host()
    return {
        "date": now(),
        "command_line": [sys.executable] + sys.argv,
        "git_commit": git_commit(),
        "card": card(card_name, gpu, device_id, h),
        "provider": provider,
        "device_id": device_id,
        "host": h,
        "versions": versions("numpy", *extra_versions),
        "model": model,
        "settings": {k: v for k, v in vars(tool_args).items()},
        "elapsed_s": None,
    }


def peak_rss_mib() -> float | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def gpu_used_mib(device_id: int) -> int | None:
    out = run_quiet(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i",
                     str(device_id)])
    try:
        return int(out.splitlines()[0].strip()) if out else None
    except (ValueError, IndexError):
        return None


class MemoryProbe:
    """GPU memory.used sampled by a thread (whole device), and the process's peak RSS, per part."""

    def __init__(self, gpu: bool, device_id: int, interval_s: float = 0.2):
        self.device_id = device_id
        self.before = gpu_used_mib(device_id) if gpu else None
        self.enabled = self.before is not None
        self.part_peak = 0
        self.overall = 0
        self.samples = 0
        self.parts: list[dict] = []
        self._stop = threading.Event()
        self._thread = None
        if self.enabled:
            self._thread = threading.Thread(target=self._poll, args=(interval_s,), daemon=True)
            self._thread.start()

    def _sample(self):
        mib = gpu_used_mib(self.device_id)
        if mib is not None:
            self.part_peak = max(self.part_peak, mib)
            self.overall = max(self.overall, mib)
            self.samples += 1

    def _poll(self, interval_s: float):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(interval_s)

    def begin(self):
        self.part_peak = 0
        if self.enabled:
            self._sample()

    def end(self, name: str, **extra) -> dict:
        if self.enabled:
            self._sample()
        p = {"part": name, "gpu_peak_mib": self.part_peak if self.enabled else None,
             "host_peak_rss_mib": peak_rss_mib(), **extra}
        self.parts.append(p)
        return p

    def finish(self) -> dict:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return {
            "gpu_source": f"nvidia-smi --query-gpu=memory.used -i {self.device_id} (whole device)"
            if self.enabled else None,
            "gpu_before_mib": self.before,
            "gpu_peak_mib": self.overall if self.enabled else None,
            "host_peak_rss_mib": peak_rss_mib(),
            "host_peak_rss_is_per_part": False,
            "parts": self.parts,
            "gpu_samples": self.samples,
        }


def timed_loop(warmup: int, iters: int, budget_s: float | None, fn):
    """fn() `warmup` times, then up to `iters` times (stops after the budget, one timed call at least)."""
    for _ in range(warmup):
        fn()
    out = []
    start = time.perf_counter()
    for _ in range(iters):
        out.append(fn())
        if budget_s is not None and time.perf_counter() - start >= budget_s:
            break
    return out


def report(tool: str, meta_: dict, started: float, unet_steps=None, e2e=None, memory=None, notes=(),
           skipped: str | None = None) -> dict:
    meta_["elapsed_s"] = time.perf_counter() - started
    r = {"schema": SCHEMA, "tool": tool, "meta": meta_, "unet_steps": unet_steps, "e2e": e2e, "http": None,
         "memory": memory, "notes": list(notes)}
    if skipped:
        r["skipped"] = skipped
    return r


def write(r: dict, out_dir: str, stem: str) -> str:
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{stem}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(r, f, indent=2, default=str)
        f.write("\n")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import report as _report  # noqa: PLC0415 - the Markdown renderer beside this file

    md = _report.markdown([r])
    with open(os.path.join(out_dir, f"{stem}.md"), "w", encoding="utf-8") as f:
        f.write(md)
    return path


def unet_row(rows: int, samples_ms, ort_ms=None, tflop_per_row: float | None = None, wall_s: float = 0.0,
             **extra) -> dict:
    s = summary(samples_ms)
    secs = s["median"] / 1e3
    images = (rows + 1) // 2
    return {"rows": rows, "images": images, "iters": s["n"], "ms": s,
            "ort_ms": summary(ort_ms) if ort_ms is not None else None,
            "steps_per_s": 1.0 / secs, "image_steps_per_s": images / secs,
            "tflops": tflop_per_row * rows / secs if tflop_per_row else None, "wall_s": wall_s, **extra}


def csv_ints(text: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise SystemExit(f"error: expected comma-separated integers, got {text!r}") from e
    if not vals or any(v <= 0 for v in vals):
        raise SystemExit(f"error: expected positive integers, got {text!r}")
    return vals
