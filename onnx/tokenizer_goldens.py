#!/usr/bin/env python3
"""Tokenizer goldens: tests/fixtures/tokenizer/goldens.json.

For each prompt, the token ids (no BOS/EOS, no padding, no truncation) from
  open_clip   open_clip_torch 3.3.0's SimpleTokenizer: the reference CLIP tokenizer (ftfy.fix_text, html
              unescape twice, whitespace clean, lowercase, then CLIP's BPE)
  transformers  transformers 5's CLIPTokenizer loaded from our tokenizer.json
  tokenizers  the `tokenizers` library on tokenizer.json directly (what sdgate's Rust side runs)
and whether they agree. Requirements: pip install --no-deps open_clip_torch==3.3.0 (plus ftfy, regex).

    python onnx/tokenizer_goldens.py            # write the file
    python onnx/tokenizer_goldens.py --check    # compare with the committed file
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TOKENIZER_JSON = os.path.join(REPO, "tests", "fixtures", "tiny-sd1", "model", "tokenizer", "tokenizer.json")
OUT = os.path.join(REPO, "tests", "fixtures", "tokenizer", "goldens.json")

PROMPTS = [
    "a photo of a cat",
    "a  photo,of\tthe CAT",
    "(masterpiece:1.2), best quality, 1girl",
    "",
    "   ",
    "café crème brûlée",
    "naïve résumé Ångström",
    "combining e\u0301 accent",
    "東京タワーの夜景",
    "一只可爱的猫",
    "고양이 사진",
    "Привет мир",
    "ΑΒΓ Greek ελληνικά",
    "مرحبا بالعالم",
    "Ünïcödé ÜBER Straße",
    "😀🐱 emoji test 👍🏽",
    "family 👨‍👩‍👧‍👦",
    "Tom &amp; Jerry",
    "&lt;lora:foo:0.8&gt; &quot;quoted&quot; &#39;x&#39;",
    "<lora:add_detail:1>",
    "\u201ccurly quotes\u201d and \u2018single\u2019",
    "\ufb01ne ligature",
    "ＦＵＬＬ\u3000ＷＩＤＴＨ",
    "cafÃ© mojibake",
    "\u00a0non-breaking\u00a0space",
    "\u200bzero\u200bwidth",
    "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
    "1234567890 3.14159 1,000,000 2024-11-26",
    "8k uhd, dslr, 35mm f/1.8",
    "a [red:blue:0.5] ball",
    "[[[nested]]] ((((emphasis))))",
    "AND BREAK and break",
    "line1\nline2\r\nline3",
    "don't won't it's I'm we'll they've",
    "hello!!! ??? ... ,,, ;;;",
    "e-mail: user@example.com https://example.com/path?q=1",
    "#hashtag @mention $100 50% ^caret~ `backtick`",
    "<|startoftext|> injected <|endoftext|>",
    "a " * 90,
    "1girl, solo, long hair, looking at viewer, smile, open mouth, blue eyes, blonde hair, dress, "
    "outdoors, sky, day, cloud, tree, blue sky, grass, scenery, highly detailed, sharp focus, 8k",
]


def open_clip_tokenizer():
    """open_clip's tokenizer module, loaded from its file: open_clip/__init__ needs torchvision."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("open_clip_torch is not installed: pip install --no-deps open_clip_torch==3.3.0")
    path = os.path.join(list(spec.submodule_search_locations)[0], "tokenizer.py")
    s = importlib.util.spec_from_file_location("open_clip_tokenizer", path)
    module = importlib.util.module_from_spec(s)
    s.loader.exec_module(module)
    return module.SimpleTokenizer()


def goldens() -> dict:
    from tokenizers import Tokenizer
    from transformers import CLIPTokenizer

    oc = open_clip_tokenizer()
    hf = CLIPTokenizer(tokenizer_file=TOKENIZER_JSON)
    raw = Tokenizer.from_file(TOKENIZER_JSON)
    cases = []
    for p in PROMPTS:
        a = [int(i) for i in oc.encode(p)]
        b = [int(i) for i in hf(p, add_special_tokens=False)["input_ids"]]
        c = [int(i) for i in raw.encode(p, add_special_tokens=False).ids]
        cases.append({"prompt": p, "open_clip": a, "transformers": b, "tokenizers": c,
                      "agree": a == b == c})
    return {
        "about": "CLIP token ids without BOS/EOS/padding. open_clip = open_clip_torch 3.3.0 SimpleTokenizer "
                 "(reference); transformers = transformers 5 CLIPTokenizer(tokenizer_file=tokenizer.json); "
                 "tokenizers = tokenizers.Tokenizer on tokenizer.json (as sdgate's Rust side). "
                 "Made by onnx/tokenizer_goldens.py.",
        "tokenizer": "tests/fixtures/tiny-sd1/model/tokenizer/tokenizer.json",
        "cases": cases,
    }


def render(data: dict) -> str:
    # One case per line keeps diffs readable.
    lines = ["{", f'  "about": {json.dumps(data["about"], ensure_ascii=False)},',
             f'  "tokenizer": {json.dumps(data["tokenizer"])},', '  "cases": [']
    body = [f"    {json.dumps(c, ensure_ascii=False)}" for c in data["cases"]]
    lines.append(",\n".join(body))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = render(goldens())
    if args.check:
        with open(OUT, encoding="utf-8") as f:
            same = f.read() == text
        print("goldens reproduce" if same else "goldens differ")
        return 0 if same else 1
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    data = json.loads(text)
    bad = [c for c in data["cases"] if not c["agree"]]
    print(f"wrote {OUT}: {len(data['cases'])} prompts, {len(bad)} disagree")
    for c in bad:
        print(f"  {c['prompt']!r}: open_clip {c['open_clip'][:12]} transformers {c['transformers'][:12]} "
              f"tokenizers {c['tokenizers'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
