"""End-to-end conditioning goldens on the tiny fixture: the WebUI's prompt → conditioning path run
with transformers' CLIPTextModel built from tests/fixtures/tiny-sd1/checkpoint/tiny-sd1.safetensors.

    /work/main/.venv/bin/python scripts/goldens/prompt_conditioning.py --webui /path/to/stable-diffusion-webui

From the WebUI checkout (see prompt_webui.py): prompt_parser.get_learned_conditioning /
get_multicond_learned_conditioning (schedules, AND, caching), sd_hijack_clip's tokenize_line and
process_texts, sd_emphasis's emphasis classes and textual_inversion's EmbeddingDatabase lookup.
This script supplies what the WebUI's model wrapper does around them, step for step as
FrozenCLIPEmbedderWithCustomWordsBase.forward / process_tokens and FrozenCLIPEmbedderWithCustomWords
.encode_with_transformers (CLIP skip: hidden_states[-N] then final_layer_norm) and
sd_hijack.EmbeddingsWithFixes (embedding vectors written over the token embeddings at offset + 1).
The tokenizer is the fixture's tokenizer.json (`tokenizers`), as sdgate's.

It also checks that the exported ONNX text encoder (inputs_embeds + layer_from_end) gives the same
hidden states as the torch model on the same spliced embeddings.

Writes tests/fixtures/prompt/conditioning.json (cases) and conditioning.safetensors (tensors
`case{i}/part{k}/sched{j}`, [77·chunks, 32] float32), and tests/fixtures/prompt/conditioning/
tinyemb.safetensors, a 2-vector 32-wide textual-inversion embedding the cases use.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prompt_webui import load_definitions, load_module, webui_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny-sd1"
OUT_DIR = ROOT / "tests" / "fixtures" / "prompt"

CASES = [
    # (prompt, steps, emphasis, clip_skip, composable)
    ("a photo of a cat", 20, "Original", 1, False),
    ("", 20, "Original", 1, False),
    ("a (photo:1.3) of a [cat], ((masterpiece))", 20, "Original", 1, False),
    ("a (photo:1.3) of a [cat], ((masterpiece))", 20, "Original", 2, False),
    ("a (photo:1.3) of a [cat], ((masterpiece))", 20, "No norm", 1, False),
    ("a (photo:1.3) of a [cat], ((masterpiece))", 20, "None", 1, False),
    ("a (photo:1.3) of a [cat], ((masterpiece))", 20, "Ignore", 3, False),
    ("a [cat:dog:0.5] on a [red|blue] table BREAK (sunset:0.8)", 4, "Original", 1, False),
    ("a tinyemb cat, (tinyemb:1.2) style", 20, "Original", 1, False),
    (", ".join(f"word{i} thing" for i in range(45)), 20, "Original", 1, False),
    ("short [x:" + "long prompt, " * 40 + ":3]", 6, "Original", 2, False),
    ("a cat AND a dog:0.5 AND (a bird:1.2):-0.3", 20, "Original", 1, True),
    ("lowres, bad anatomy, tinyemb", 20, "Original", 1, False),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--webui", help="WebUI checkout (or SD_WEBUI_DIR)")
    ap.add_argument("--checkpoint", default=str(FIXTURE / "checkpoint" / "tiny-sd1.safetensors"))
    ap.add_argument("--model", default=str(FIXTURE / "model"), help="exported model folder (tokenizer, ONNX)")
    ap.add_argument("--onnx-tools", default=str(ROOT / "onnx"), help="folder holding the sdexport package")
    args = ap.parse_args()
    webui = webui_dir(args.webui)

    import numpy as np
    import onnxruntime as ort
    import safetensors.torch
    import tokenizers
    import torch

    sys.path.insert(0, args.onnx_tools)
    from sdexport.architectures import match_text
    from sdexport.ldm import clip_state_dict, infer_text
    from transformers import CLIPTextConfig, CLIPTextModel

    sd = safetensors.torch.load_file(args.checkpoint)
    text_sd = clip_state_dict(sd)
    text = CLIPTextModel(CLIPTextConfig(**match_text(infer_text(text_sd))))
    missing, unexpected = text.load_state_dict({k: v.float() for k, v in text_sd.items()}, strict=False)
    assert not unexpected and all("position_ids" in m for m in missing), (missing, unexpected)
    text.eval()
    hidden = text.config.hidden_size

    tok = tokenizers.Tokenizer.from_file(str(Path(args.model) / "tokenizer" / "tokenizer.json"))
    onnx_te = ort.InferenceSession(str(Path(args.model) / "text_encoder" / "model.onnx"))

    # The textual-inversion embedding the cases use.
    emb_dir = OUT_DIR / "conditioning"
    emb_dir.mkdir(parents=True, exist_ok=True)
    tinyemb = torch.randn(2, hidden, generator=torch.Generator().manual_seed(77))
    safetensors.torch.save_file({"emb_params": tinyemb}, str(emb_dir / "tinyemb.safetensors"))

    pp = load_module(webui / "modules" / "prompt_parser.py", "webui_prompt_parser")
    emphasis_ns = load_definitions(
        webui / "modules" / "sd_emphasis.py",
        ["Emphasis", "EmphasisNone", "EmphasisIgnore", "EmphasisOriginal", "EmphasisOriginalNoNorm",
         "get_current_option", "options"],
        {"torch": torch, "annotations": None},
    )
    opts = SimpleNamespace(emphasis="Original", comma_padding_backtrack=20, CLIP_stop_at_last_layers=1)
    ns = load_definitions(
        webui / "modules" / "sd_hijack_clip.py",
        ["PromptChunk", "PromptChunkFix", "FrozenCLIPEmbedderWithCustomWordsBase"],
        {"torch": torch, "math": math, "namedtuple": namedtuple, "prompt_parser": pp, "opts": opts,
         "sd_hijack": SimpleNamespace(StableDiffusionModelHijack=object), "devices": None, "sd_emphasis": None},
    )
    db_ns = load_definitions(webui / "modules" / "textual_inversion" / "textual_inversion.py",
                             ["EmbeddingDatabase"], {"os": __import__("os")})

    class Embedder(ns["FrozenCLIPEmbedderWithCustomWordsBase"]):
        def __init__(self, hijack):
            super().__init__(None, hijack)
            self.id_start = tok.token_to_id("<|startoftext|>")
            self.id_end = tok.token_to_id("<|endoftext|>")
            self.id_pad = self.id_end
            self.comma_token = tok.token_to_id(",</w>")

        def tokenize(self, texts):
            return [tok.encode(t, add_special_tokens=False).ids for t in texts]

        def embeds(self, tokens, fixes):
            # sd_hijack.EmbeddingsWithFixes: token embeddings, then each fix's vectors at offset + 1.
            x = text.embeddings.token_embedding(tokens)
            rows = []
            for row, row_fixes in zip(x, fixes):
                for offset, embedding in row_fixes:
                    emb = embedding.vec
                    emb_len = min(row.shape[0] - offset - 1, emb.shape[0])
                    row = torch.cat([row[0:offset + 1], emb[0:emb_len], row[offset + 1 + emb_len:]])
                rows.append(row)
            return torch.stack(rows)

        def encode(self, tokens, fixes):
            # encode_with_transformers with CLIP skip; the token embeddings replaced as the WebUI's hook does.
            inputs = self.embeds(tokens, fixes)
            n = opts.CLIP_stop_at_last_layers
            emb_layer = text.embeddings.token_embedding
            saved = emb_layer.forward
            emb_layer.forward = lambda ids: inputs
            try:
                out = text(input_ids=tokens, output_hidden_states=True)
            finally:
                emb_layer.forward = saved
            z = text.final_layer_norm(out.hidden_states[-n]) if n > 1 else out.last_hidden_state
            onnx_z = onnx_te.run(None, {"inputs_embeds": inputs.detach().numpy().astype(np.float32),
                                        "layer_from_end": np.array([n], dtype=np.int64)})[0]
            assert np.abs(onnx_z - z.detach().numpy()).max() < 1e-4, "the ONNX text encoder disagrees with torch"
            return z

        def get_learned_conditioning(self, texts):
            # FrozenCLIPEmbedderWithCustomWordsBase.forward / process_tokens.
            batch_chunks, _ = self.process_texts(texts)
            chunk_count = max(len(x) for x in batch_chunks)
            zs = []
            for i in range(chunk_count):
                batch_chunk = [chunks[i] if i < len(chunks) else self.empty_chunk() for chunks in batch_chunks]
                tokens = torch.asarray([x.tokens for x in batch_chunk])
                z = self.encode(tokens, [x.fixes for x in batch_chunk])
                emphasis = emphasis_ns["get_current_option"](opts.emphasis)()
                emphasis.tokens = [x.tokens for x in batch_chunk]
                emphasis.multipliers = torch.asarray([x.multipliers for x in batch_chunk])
                emphasis.z = z
                emphasis.after_transformers()
                zs.append(emphasis.z)
            return torch.hstack(zs)

    hijack = SimpleNamespace(embedding_db=None)
    model = Embedder(hijack)
    db = db_ns["EmbeddingDatabase"]()
    db.register_embedding(SimpleNamespace(name="tinyemb", vectors=2, vec=tinyemb),
                          SimpleNamespace(cond_stage_model=model))
    hijack.embedding_db = db

    tensors, cases = {}, []
    with torch.no_grad():
        for i, (prompt, steps, emphasis, clip_skip, composable) in enumerate(CASES):
            opts.emphasis, opts.CLIP_stop_at_last_layers = emphasis, clip_skip
            if composable:
                mc = pp.get_multicond_learned_conditioning(model, [prompt], steps)
                parts = [(c.weight, c.schedules) for c in mc.batch[0]]
            else:
                parts = [(1.0, pp.get_learned_conditioning(model, [prompt], steps)[0])]
            case = {"prompt": prompt, "steps": steps, "emphasis": emphasis, "clip_skip": clip_skip,
                    "composable": composable, "parts": []}
            for k, (weight, schedule) in enumerate(parts):
                ends = []
                for j, entry in enumerate(schedule):
                    tensors[f"case{i}/part{k}/sched{j}"] = entry.cond.detach().float().contiguous()
                    ends.append(entry.end_at_step)
                case["parts"].append({"weight": weight, "end_at_steps": ends})
            cases.append(case)
    safetensors.torch.save_file(tensors, str(OUT_DIR / "conditioning.safetensors"))
    (OUT_DIR / "conditioning.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
