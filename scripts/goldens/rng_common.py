"""Shared helpers for the rng golden scripts (fixtures under tests/fixtures/rng/).

A tensor is stored whole when small, otherwise as a checksum (SHA-256 of its float32 little-endian
bytes), its float64 sum and sum of absolute values, and a fixed sample of elements (the first 16, the
last 16 and every `stride`-th one). Floats are written as the shortest decimal that reads back as the
same float32.
"""

import hashlib
import json
import os

import numpy as np

FULL_LIMIT = 512
SAMPLE_COUNT = 256

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "rng")

# The seeds and shapes the brief asks for.
SEEDS = [0, 1, 1234, 4294967295]
SHAPES = [(1, 4, 8, 8), (2, 4, 64, 64), (1,), (3,), (15,), (16,), (17,)]


def sample_indices(n):
    """Indices kept for a big tensor: first 16, last 16, and about SAMPLE_COUNT spread evenly."""
    stride = max(1, n // SAMPLE_COUNT)
    idx = set(range(min(16, n))) | set(range(max(0, n - 16), n)) | set(range(0, n, stride))
    return sorted(idx)


def f32(v):
    """The shortest decimal of a float32 value, as a Python float (for compact JSON)."""
    return float(str(np.float32(v)))


def encode(t, full_limit=FULL_LIMIT):
    """A float32 tensor (numpy or torch) as a JSON-ready dict."""
    a = np.ascontiguousarray(np.asarray(t, dtype=np.float32)).reshape(-1)
    out = {"shape": list(np.asarray(t).shape), "n": int(a.size)}
    if a.size <= full_limit:
        out["full"] = [f32(v) for v in a]
        return out
    idx = sample_indices(a.size)
    out["sha256"] = hashlib.sha256(a.astype("<f4").tobytes()).hexdigest()
    out["sum"] = float(a.astype(np.float64).sum())
    out["sum_abs"] = float(np.abs(a.astype(np.float64)).sum())
    out["sample_idx"] = idx
    out["sample"] = [f32(a[i]) for i in idx]
    return out


def write(name, obj):
    os.makedirs(FIXTURES, exist_ok=True)
    path = os.path.join(FIXTURES, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
