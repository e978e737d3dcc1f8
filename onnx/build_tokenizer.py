"""Build the CLIP tokenizer files offline from the BPE vocabulary in the PyPI wheel open_clip_torch.

The vocabulary is the one OpenAI's CLIP (and so SD 1.x's text encoder) uses: 256 byte tokens, their
"</w>" forms, 48894 merges, then <|startoftext|> and <|endoftext|>: 49408 entries.
We write vocab.json + merges.txt (the layout transformers' CLIPTokenizer reads) and tokenizer.json
(the HF `tokenizers` format that sdgate's Rust side loads), all derived from that one file.

    python onnx/build_tokenizer.py --wheel open_clip_torch-*.whl --out DIR
    python onnx/build_tokenizer.py --installed --out DIR   # the BPE file of an installed open_clip_torch
    python onnx/build_tokenizer.py --out DIR          # downloads the wheel from PyPI with pip

The committed onnx/tokenizer/tokenizer.json (which export.py copies into every model folder, and so into
tests/fixtures/tiny-sd1/model/tokenizer/) is this script's output, written compactly (pinned
transformers/tokenizers, onnx/requirements.txt); onnx/tests checks that it reproduces byte for byte.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile

OPEN_CLIP_VERSION = "3.3.0"
BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte → printable-unicode map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def read_bpe(wheel: str | None) -> list[str]:
    if wheel is None:
        tmp = tempfile.mkdtemp()
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp,
                               f"open_clip_torch=={OPEN_CLIP_VERSION}"])
        wheel = glob.glob(os.path.join(tmp, "open_clip_torch-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        text = gzip.decompress(z.read(BPE_MEMBER)).decode("utf-8")
    return text.split("\n")


def read_bpe_installed() -> list[str]:
    """The BPE file shipped inside an installed open_clip_torch (found without importing open_clip, whose
    __init__ needs torchvision)."""
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("open_clip_torch is not installed (pip install --no-deps open_clip_torch=="
                                f"{OPEN_CLIP_VERSION})")
    path = os.path.join(list(spec.submodule_search_locations)[0], os.path.basename(BPE_MEMBER))
    with open(path, "rb") as f:
        return gzip.decompress(f.read()).decode("utf-8").split("\n")


def build(lines: list[str]) -> tuple[dict[str, int], list[str]]:
    # Exactly as open_clip's SimpleTokenizer and OpenAI's CLIP build it.
    merges = lines[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    for m in merges:
        vocab.append("".join(m))
    vocab.extend(["<|startoftext|>", "<|endoftext|>"])
    encoder = dict(zip(vocab, range(len(vocab))))
    return encoder, [" ".join(m) for m in merges]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", help="path of an open_clip_torch wheel (otherwise pip downloads it)")
    ap.add_argument("--installed", action="store_true", help="read the BPE file of the installed open_clip_torch")
    ap.add_argument("--out", required=True, help="output folder (vocab.json, merges.txt, tokenizer.json)")
    args = ap.parse_args()

    lines = read_bpe_installed() if args.installed else read_bpe(args.wheel)
    write_tokenizer_json(lines, args.out, vocab_and_merges=True)


def write_tokenizer_json(lines: list[str], out: str, vocab_and_merges: bool = False) -> str:
    """Write out/tokenizer.json (and, if asked, vocab.json + merges.txt); returns the tokenizer.json path."""
    encoder, merges = build(lines)
    assert len(encoder) == 49408, len(encoder)
    for tok, want in [("<|startoftext|>", 49406), ("<|endoftext|>", 49407), ("a</w>", 320),
                      ("photo</w>", 1125), ("cat</w>", 2368)]:
        assert encoder[tok] == want, (tok, encoder[tok], want)

    os.makedirs(out, exist_ok=True)
    if vocab_and_merges:
        with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(encoder, f, ensure_ascii=False, separators=(",", ":"))
        with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(merges) + "\n")

    # tokenizer.json through transformers' fast CLIP tokenizer (converted from the slow one's files).
    # (transformers 5's CLIPTokenizer is backed by the `tokenizers` library.)
    from transformers import CLIPTokenizer

    fast = CLIPTokenizer(vocab=encoder, merges=[tuple(m.split(" ")) for m in merges], unk_token="<|endoftext|>", bos_token="<|startoftext|>",
                         eos_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=77)
    path = os.path.join(out, "tokenizer.json")
    fast.backend_tokenizer.save(path, pretty=False)  # compact: half the size of the indented form
    print(f"wrote {out}: 49408 tokens, {len(merges)} merges", file=sys.stderr)
    return path


if __name__ == "__main__":
    main()
