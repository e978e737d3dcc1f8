"""Reading a single-file checkpoint without ever running code from it.

`.safetensors` is read with the safetensors library (a JSON header and raw tensors: nothing to execute).
`.ckpt` / `.pt` / `.pth` are pickles: they are read ONLY through `torch.load(weights_only=True)`, whose
restricted unpickler refuses every global that is not a tensor type or a plain container. A pickle that
asks for anything else (os.system, a PyTorch Lightning callback, ...) is refused, never executed.
"""
from __future__ import annotations

import hashlib
import os

import torch

from . import ExportError

SAFETENSORS_EXT = (".safetensors",)
PICKLE_EXT = (".ckpt", ".pt", ".pth")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_state_dict(path: str) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint file, keyed as stored (a top-level `state_dict` is unwrapped)."""
    if not os.path.isfile(path):
        raise ExportError(f"checkpoint {path} does not exist or is not a file")
    lower = path.lower()
    if lower.endswith(SAFETENSORS_EXT):
        return _load_safetensors(path)
    if lower.endswith(PICKLE_EXT):
        return _load_pickle(path)
    raise ExportError(f"checkpoint {path}: unknown file type (expected .safetensors, or .ckpt/.pt/.pth)")


def _load_safetensors(path: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ExportError(f"checkpoint {path} is not a valid safetensors file (truncated or corrupt?): {e}") from e


def _load_pickle(path: str) -> dict[str, torch.Tensor]:
    import pickle

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()
        detail = next((line for line in first if "Unsupported global" in line or "GLOBAL" in line), first[0] if first else "")
        raise ExportError(
            f"checkpoint {path} was refused: its pickle asks for something other than tensors "
            f"({detail.strip()}); it was not run. Convert it to .safetensors with a tool you trust, "
            "or use the .safetensors release of the model"
        ) from e
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError) as e:
        raise ExportError(f"checkpoint {path} cannot be read as a PyTorch checkpoint (truncated or corrupt?): {e}") from e
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ExportError(f"checkpoint {path} holds a {type(obj).__name__}, not a dictionary of tensors")
    return {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
