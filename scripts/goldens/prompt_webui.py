"""Load reference code from a checkout of the AUTOMATIC1111 WebUI without importing the WebUI.

The goldens under tests/fixtures/prompt/ come from the WebUI's own functions. They are not copied
into this repository: every golden script takes the path of a WebUI checkout (v1.10.x,
https://github.com/AUTOMATIC1111/stable-diffusion-webui) with --webui DIR or SD_WEBUI_DIR, and
pulls the definitions it needs out of the source files with `ast`, so none of the WebUI's heavy
imports (gradio, the model code) run.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import sys
from pathlib import Path


def webui_dir(arg: str | None) -> Path:
    root = Path(arg or os.environ.get("SD_WEBUI_DIR", ""))
    if not (root / "modules" / "prompt_parser.py").is_file():
        sys.exit("need a WebUI checkout: --webui DIR or SD_WEBUI_DIR (with modules/prompt_parser.py)")
    return root


def load_module(path: Path, name: str):
    """Import one file as a module (prompt_parser.py imports only re, lark, torch)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_definitions(path: Path, names: list[str], namespace: dict) -> dict:
    """Execute only the top-level definitions called `names` from `path` in `namespace`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    picked = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
            picked.append(node)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in names for t in node.targets):
            picked.append(node)
    found = {n.name if not isinstance(n, ast.Assign) else n.targets[0].id for n in picked}
    missing = set(names) - found
    if missing:
        sys.exit(f"{path}: definitions not found: {sorted(missing)}")
    code = compile(ast.Module(body=picked, type_ignores=[]), str(path), "exec")
    exec(code, namespace)
    return namespace
