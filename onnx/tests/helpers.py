import filecmp
import os
import shutil

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file


def files_under(root):
    out = []
    for dirpath, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    return sorted(out)


def differing_files(a, b):
    fa, fb = files_under(a), files_under(b)
    bad = sorted(set(fa) ^ set(fb))
    bad += [f for f in fa if f in fb and not filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False)]
    return bad


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def run(path, feeds):
    return session(path).run(None, feeds)[0]


def reference(path):
    return load_file(path)


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def assemble_inpaint(tiny_model, inpaint_overlay, dest):
    """What the test harness does: copy tiny-sd1/model, overlay tiny-sd1-inpaint's model.json and unet/."""
    shutil.copytree(tiny_model, dest)
    for f in ("model.json", os.path.join("unet", "model.onnx")):
        shutil.copyfile(os.path.join(inpaint_overlay, f), os.path.join(dest, f))
    return dest
