"""Goldens for long-prompt chunking, from the WebUI's `FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line`.

    /work/main/.venv/bin/python scripts/goldens/prompt_chunks.py --webui /path/to/stable-diffusion-webui

The WebUI's class (modules/sd_hijack_clip.py) and its embedding lookup (EmbeddingDatabase from
modules/textual_inversion/textual_inversion.py) are taken from the checkout with `ast` (see
prompt_webui.py); the tokenizer is the fixture's tokenizer.json through the `tokenizers` package (the
same file sdgate loads), so these goldens check the chunking, not the tokenizer. Textual-inversion
embeddings are stand-ins with a name and a vector count.

Writes tests/fixtures/prompt/chunks.json: per case the prompt, options, embeddings, and the chunks
(77 token ids, multipliers as [value, run length] pairs, fixes as [offset, name]) and token count.
`webui_misplaced_fix` marks cases where the WebUI's comma backtrack leaves an embedding's fix in
the wrong chunk (sdgate moves it with its tokens).
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prompt_webui import load_definitions, load_module, webui_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "tests" / "fixtures" / "tiny-sd1" / "model" / "tokenizer" / "tokenizer.json"
OUT = ROOT / "tests" / "fixtures" / "prompt" / "chunks.json"

EMBEDDINGS = {"emb1": 3, "longemb": 10, "my style": 2, "huge": 75}

HANDPICKED = [
    "", "a photo of a cat", "a (photo:1.3) of a [cat]", "a cat BREAK a dog", "BREAK", "BREAK BREAK",
    "a cat, " * 40, "masterpiece, best quality, " * 20 + "emb1", "word " * 74 + "emb1 end",
    "word " * 73 + "longemb", "emb1 " * 30, "my style and my stylish emb1", "(emb1:1.5) [longemb]",
    "huge", "a huge cat", ", ".join(["w%d" % i for i in range(90)]), "x " * 75, "x " * 76, "x " * 150,
    "(a BREAK b)", "a,b,c " * 30 + "BREAK tail", "((((deep))))" * 10,
]

WORDS = ["a", "cat", "dog", ",", ",", "(", ")", "[", "]", "masterpiece", "best quality", "emb1", "longemb",
         "my style", "BREAK", "(x:1.3)", "very detailed", "photo", "of", "the", "sky", "ultra", "8k"]


def random_prompts(n: int) -> list[str]:
    rng = random.Random(5)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 220))) for _ in range(n)]


def runs(values: list[float]) -> list[list]:
    out: list[list] = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--webui", help="WebUI checkout (or SD_WEBUI_DIR)")
    args = ap.parse_args()
    webui = webui_dir(args.webui)

    import tokenizers
    import torch

    tok = tokenizers.Tokenizer.from_file(str(TOKENIZER))
    pp = load_module(webui / "modules" / "prompt_parser.py", "webui_prompt_parser")
    opts = SimpleNamespace(emphasis="Original", comma_padding_backtrack=20)
    ns = load_definitions(
        webui / "modules" / "sd_hijack_clip.py",
        ["PromptChunk", "PromptChunkFix", "FrozenCLIPEmbedderWithCustomWordsBase"],
        {"torch": torch, "math": math, "namedtuple": namedtuple, "prompt_parser": pp, "opts": opts,
         "sd_hijack": SimpleNamespace(StableDiffusionModelHijack=object), "devices": None, "sd_emphasis": None},
    )
    db_ns = load_definitions(webui / "modules" / "textual_inversion" / "textual_inversion.py",
                             ["EmbeddingDatabase"], {"os": __import__("os")})

    class Reference(ns["FrozenCLIPEmbedderWithCustomWordsBase"]):
        def __init__(self, hijack):
            super().__init__(None, hijack)
            self.id_start = tok.token_to_id("<|startoftext|>")
            self.id_end = tok.token_to_id("<|endoftext|>")
            self.comma_token = tok.token_to_id(",</w>")

        def tokenize(self, texts):
            return [tok.encode(t, add_special_tokens=False).ids for t in texts]

    hijack = SimpleNamespace(embedding_db=None)
    model = Reference(hijack)

    cases = []
    prompts = [(p, e) for p in HANDPICKED for e in (True,)] + [(p, True) for p in random_prompts(40)]
    settings = [("Original", 20), ("Original", 0), ("None", 20), ("Original", 5)]
    for i, (prompt, with_embeddings) in enumerate(prompts):
        emphasis, backtrack = settings[i % len(settings)] if i >= len(HANDPICKED) else ("Original", 20)
        for emb_on in ([True, False] if i < len(HANDPICKED) else [True]):
            opts.emphasis, opts.comma_padding_backtrack = emphasis, backtrack
            db = db_ns["EmbeddingDatabase"]()
            if emb_on:
                for name, n in EMBEDDINGS.items():
                    db.register_embedding(SimpleNamespace(name=name, vectors=n), SimpleNamespace(cond_stage_model=model))
            hijack.embedding_db = db
            chunks, token_count = model.tokenize_line(prompt)
            misplaced = any(chunk.tokens[f.offset + 1] != 0 for chunk in chunks for f in chunk.fixes)
            cases.append({
                "prompt": prompt,
                "emphasis": emphasis,
                "comma_padding_backtrack": backtrack,
                "embeddings": EMBEDDINGS if emb_on else {},
                "token_count": token_count,
                "webui_misplaced_fix": misplaced,
                "chunks": [{"tokens": c.tokens, "multipliers": runs(c.multipliers),
                            "fixes": [[f.offset, f.embedding.name] for f in c.fixes]} for c in chunks],
            })
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"source": "modules/sd_hijack_clip.py tokenize_line", "cases": cases},
                              separators=(",", ":")) + "\n")
    print(f"wrote {OUT}: {len(cases)} cases, {sum(c['webui_misplaced_fix'] for c in cases)} with a misplaced fix")


if __name__ == "__main__":
    main()
