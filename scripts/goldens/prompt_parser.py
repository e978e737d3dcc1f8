"""Goldens for the prompt language parsers, from the WebUI's own functions.

    /work/main/.venv/bin/python scripts/goldens/prompt_parser.py --webui /path/to/stable-diffusion-webui

Needs lark==1.1.2 (the WebUI's pin) and torch (prompt_parser.py imports it). Writes
tests/fixtures/prompt/parser.json with, for the doctest inputs, hand-picked prompts and seeded
random ones:
- schedules: get_learned_conditioning_prompt_schedules([p], base, hires, old)[0]
- attention: parse_prompt_attention(p)
- and: get_multicond_prompt_list([p])
- comments: strip_comments(p) (modules/processing_scripts/comments.py)

lark's Earley parser resolves some ambiguous prompts differently depending on Python's hash seed.
Each schedule is computed under several PYTHONHASHSEED values (in subprocesses); prompts whose
answers differ go to `ambiguous_schedules` with every answer seen.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prompt_webui import load_definitions, load_module, webui_dir  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "prompt" / "parser.json"
HASH_SEEDS = ["0", "1", "3", "5", "7"]

DOCTEST_SCHEDULES = [
    ("test", 10, None, False), ("a [b:3]", 10, None, False), ("a [b: 3]", 10, None, False),
    ("a [[[b]]:2]", 10, None, False), ("[(a:2):3]", 10, None, False), ("a [b : c : 1] d", 10, None, False),
    ("a[b:[c:d:2]:1]e", 10, None, False), ("a [unbalanced", 10, None, False), ("a [b:.5] c", 10, None, False),
    ("a [{b|d{:.5] c", 10, None, False), ("((a][:b:c [d:3]", 10, None, False), ("[a|(b:1.1)]", 10, None, False),
    ("[fe|]male", 10, None, False), ("[fe|||]male", 10, None, False),
    ("a [b:.5] c", 10, 10, False), ("a [b:1.5] c", 10, 10, False),
]

OWN_PROMPTS = [
    "fantasy landscape with a [mountain:lake:0.25] and [an oak:a christmas tree:0.75][ in foreground::0.6][ in background:0.25] [shoddy:masterful:0.5]",
    "a [cat:dog:5] sitting", "a [cat:dog:0.5] sitting", "[cat:dog:0]", "[cat:dog:-1]", "[cat:dog:100]",
    "[cat:dog:1.0]", "[cat:dog:1.5]", "[cat:dog:1e1]", "[cat:dog:1.e1]", "[cat:dog:+3]", "[cat:dog: 3 ]",
    "[cat::3]", "[:dog:3]", "[::3]", "[cat:3]", "[ cat : 3 ]", "[cat|dog]", "[cat|dog|bird] on a [red|blue] car",
    "[cat|]", "[|]", "[a|[b|c]]", "[a:[b|c]:3]", "[[a:b:2]|c]", "(a [b:c:3]:1.2)", "(a:1.2) [b:c:3]",
    "a | b", "a \\| b", "a \\[b:3\\]", "trailing backslash \\", "backslash before newline \\\nnext",
    "[a:b:c:3]", "[a:b:3:4]", "[a:b]", "[a:b:x]", "[a:b:3x]", "[a:b:3 x]", "]]][[[a:3]", "((([a:2])))",
    "[a:b:3]]", "[[a:b:3]", "a:b:3]", "[a\nb:c\nd:5]", "[a\tb:2]", "multi\nline [x:y:3]\nprompt",
    "émoji 🐱 [chat:chien:4] ünïcödé", "[\u3000a:b:3]", "[a:b:\u30003]", "(a:1.1) [b] [c:d:.3] [e|f]",
    "[a:b:0.999]", "[a:b:.1]", "[a:b:1.0001]", "[a:b:2.5]", "[a:b:19]", "[a:b:21]",
    "BREAK [a:b:3] BREAK", "a AND [b:c:3] AND d:0.5",
]

OWN_ATTENTION = [
    "normal text", "an (important) word", "(unbalanced", "\\(literal\\]", "(unnecessary)(parens)",
    "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", "(a:1.2)", "(a: 1.2 )", "(a:-1)", "(a:+.5)",
    "(a:0)", "(a:1.2.3", "a:1.2)", "[[a]]", "[a", "a]", "(a]", "[a)", "((a)", "(a))", "\\\\(a)", "a\\b",
    "\\", "\\\\", "a BREAK b", "aBREAK b", "a BREAKb", "BREAK", "BREAK BREAK", "(a BREAK b)", "[BREAK]",
    "a\nBREAK\nb", "a\u3000BREAK\u3000b", "(a:1.5) (b:1.5)", "(a:1.1)(b)", "[a:b:3]", "(a:b)", "(a:b:1.2)",
    "((a:1.2):0.5)", "(a [b] c)", "", "   ", "(", ")", "[", "]", ":", "(:1.2)", "café (crème:1.3)",
    "(masterpiece:1.2), best quality, (ultra detailed:1.1), [blurry], 1girl",
    "(a:1e3)", "(a:1000000000000000000000000000000)", "(a:00001.5)", "(a:.)",
]

OWN_AND = [
    "a cat AND a dog", "a cat AND a dog:0.5", "a cat:1.2 AND a dog:-0.5", "a:b AND c", "ANDROID AND ANDY",
    "a AND", "AND", "a ANDb", "a AND  b : 2 ", "a\nAND\nb:.5", "x:5.", "x:1.5.5", "x: 1:2", "(a:1.2) AND [b:c:3]:0.7",
]

OWN_COMMENTS = [
    "a cat # a dog\nsun", "# hidden\nshown", "#a\n#b\n", "x\n#y", "no comment", "a#b#c\nd", "\n#x\ny", "####",
]


def random_prompts(seed: int, n: int, alphabet: list[str], max_len: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_len))) for _ in range(n)]


def schedule_cases() -> list[tuple]:
    cases = list(DOCTEST_SCHEDULES)
    for p in OWN_PROMPTS:
        cases.append((p, 20, None, False))
        cases.append((p, 10, 20, False))
        cases.append((p, 20, None, True))
    alphabet = list("ab  [[[]]]()::||1.5-e") + ["\\", "\n", "\t", "\u3000", "X", "0", "+"]
    rng = random.Random(1234)
    for p in random_prompts(42, 700, alphabet, 20):
        cases.append((p, rng.choice([1, 5, 10]), rng.choice([None, None, 3, 10]), rng.random() < 0.2))
    return cases


def worker(webui: Path) -> None:
    pp = load_module(webui / "modules" / "prompt_parser.py", "webui_prompt_parser")
    out = [pp.get_learned_conditioning_prompt_schedules([p], b, h, o)[0] for p, b, h, o in schedule_cases()]
    json.dump(out, sys.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--webui", help="WebUI checkout (or SD_WEBUI_DIR)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    webui = webui_dir(args.webui)
    if args.worker:
        return worker(webui)

    import lark

    runs = []
    for seed in HASH_SEEDS:
        env = dict(os.environ, PYTHONHASHSEED=seed)
        res = subprocess.run([sys.executable, __file__, "--webui", str(webui), "--worker"], env=env,
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(res.stdout))
    schedules, ambiguous = [], []
    for i, (p, base, hires, old) in enumerate(schedule_cases()):
        answers = []
        for r in runs:
            if r[i] not in answers:
                answers.append(r[i])
        case = {"prompt": p, "base_steps": base, "hires_steps": hires, "use_old_scheduling": old}
        if len(answers) == 1:
            schedules.append({**case, "schedule": answers[0]})
        else:
            ambiguous.append({**case, "answers": answers})

    pp = load_module(webui / "modules" / "prompt_parser.py", "webui_prompt_parser")
    att_alphabet = ["a", "b", " ", "(", ")", "[", "]", ":", "1.5", "0.5", "\\", "BREAK", " BREAK ", ".", "-", "\n", "é"]
    attention = []
    for p in OWN_ATTENTION + random_prompts(7, 400, att_alphabet, 14):
        try:
            attention.append({"prompt": p, "fragments": pp.parse_prompt_attention(p)})
        except ValueError as e:  # float() of a bad weight: the WebUI raises
            attention.append({"prompt": p, "error": str(e)})

    and_alphabet = ["a", " ", "AND", " AND ", ":", "0.5", "1", ".", "-", "\n", "b"]
    multicond = []
    for p in OWN_AND + random_prompts(9, 150, and_alphabet, 8):
        indexes, flat, _ = pp.get_multicond_prompt_list([p])
        multicond.append({"prompt": p, "parts": [[flat[i], w] for i, w in indexes[0]]})

    ns = load_definitions(webui / "modules" / "processing_scripts" / "comments.py", ["strip_comments"],
                          {"re": __import__("re")})
    com_alphabet = ["a", " ", "#", "\n", "b", "##"]
    comments = [{"prompt": p, "stripped": ns["strip_comments"](p)}
                for p in OWN_COMMENTS + random_prompts(11, 120, com_alphabet, 10)]

    doc = {
        "source": "AUTOMATIC1111/stable-diffusion-webui modules/prompt_parser.py, processing_scripts/comments.py",
        "lark": lark.__version__,
        "hash_seeds": HASH_SEEDS,
        "schedules": schedules,
        "ambiguous_schedules": ambiguous,
        "attention": attention,
        "and": multicond,
        "comments": comments,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(schedules)} schedules ({len(ambiguous)} ambiguous), {len(attention)} attention, "
          f"{len(multicond)} AND, {len(comments)} comments")


if __name__ == "__main__":
    main()
