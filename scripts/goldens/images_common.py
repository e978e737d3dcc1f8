"""Shared helpers for the images goldens (deterministic test pictures, fixture paths)."""
import json
import os

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "images")


def fixture_dir(name):
    d = os.path.join(FIXTURES, name)
    os.makedirs(d, exist_ok=True)
    return d


def test_picture(w, h, seed, mode="RGB"):
    """Smooth gradients + shapes + some noise: exercises ringing and edges of the filters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 127 + 120 * np.sin(x / max(w, 1) * 6.3 + seed)
    g = 255 * (y / max(h - 1, 1))
    b = np.where(((x - w / 2) ** 2 + (y - h / 2) ** 2) < (min(w, h) / 3) ** 2, 230, 20)
    arr = np.stack([r, g, b], -1) + rng.normal(0, 12, (h, w, 3))
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    im = Image.fromarray(arr, "RGB")
    return im.convert(mode) if mode != "RGB" else im


def test_mask(w, h, seed, shape="blob"):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    if shape == "blob":
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        m = ((x - cx) / (0.2 * w)) ** 2 + ((y - cy) / (0.15 * h)) ** 2 < 1
    elif shape == "rect":
        m = (x >= w // 5) & (x < w // 2) & (y >= h // 3) & (y < h * 3 // 4)
    elif shape == "corner":
        m = (x >= w * 3 // 4) & (y < h // 4)
    else:
        m = np.zeros((h, w), bool)
    return Image.fromarray((m * 255).astype(np.uint8), "L")


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1, sort_keys=False)
        f.write("\n")
