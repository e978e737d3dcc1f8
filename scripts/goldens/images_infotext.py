"""Goldens for infotext building and parsing.

Run: /work/main/.venv/bin/python scripts/goldens/images_infotext.py
Writes tests/fixtures/images/infotext/cases.json.

`create_infotext` and `parse_generation_parameters` below restate, in their essentials, what
AUTOMATIC1111/stable-diffusion-webui modules/processing.py create_infotext and
modules/infotext_utils.py parse_generation_parameters / quote / unquote do (v1.10): the key order,
Python's str() of the values, json.dumps(ensure_ascii=False) quoting, the parameter regex (given in
the project's reference notes) evaluated by Python's re, the >= 3 matches rule, WxH splitting and
the defaults the parser adds. Styles extraction and infotext_versions.backcompat are left out.
"""
import json
import math
import os
import re

from images_common import fixture_dir, write_json

OUT = fixture_dir("infotext")

re_param = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
re_imagesize = re.compile(r"^(\d+)x(\d+)$")


def quote(text):
    if ',' not in str(text) and '\n' not in str(text) and ':' not in str(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(text):
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except Exception:
        return text


def typed(v):
    """JSON form of a Python value for the Rust side."""
    if v is None:
        return None
    if isinstance(v, bool):
        return {"b": v}
    if isinstance(v, int):
        return {"i": v}
    if isinstance(v, float):
        return {"f": v}
    return {"s": v}


def create_infotext(f):
    strength = f.get("variation_seed_strength", 0)
    rw, rh = f.get("seed_resize_from") or (-1, -1)
    clip_skip = f.get("clip_skip", 1)
    tmr = f.get("token_merging_ratio") or 0
    rng = f.get("rng", "GPU")
    params = {
        "Steps": f["steps"],
        "Sampler": f["sampler"],
        "Schedule type": f.get("schedule_type"),
        "CFG scale": f["cfg_scale"],
        "Image CFG scale": f.get("image_cfg_scale"),
        "Seed": f["seed"],
        "Face restoration": f.get("face_restoration"),
        "Size": f"{f['width']}x{f['height']}",
        "Model hash": f.get("model_hash"),
        "Model": f.get("model"),
        "FP8 weight": None,
        "Cache FP16 weight for LoRA": None,
        "VAE hash": f.get("vae_hash"),
        "VAE": f.get("vae"),
        "Variation seed": None if strength == 0 else f.get("variation_seed"),
        "Variation seed strength": None if strength == 0 else strength,
        "Seed resize from": None if rw <= 0 or rh <= 0 else f"{rw}x{rh}",
        "Denoising strength": f.get("denoising_strength"),
        "Conditional mask weight": f.get("conditional_mask_weight"),
        "Clip skip": None if clip_skip <= 1 else clip_skip,
        "ENSD": f.get("ensd"),
        "Token merging ratio": None if tmr == 0 else tmr,
        "Token merging ratio hr": None,
        "Init image hash": f.get("init_image_hash"),
        "RNG": rng if rng != "GPU" else None,
        "Tiling": "True" if f.get("tiling") else None,
        **{k: v for k, v in f.get("extra", [])},
        "Version": f.get("version"),
        "User": f.get("user"),
    }
    text = ", ".join([k if k == v else f"{k}: {quote(v)}" for k, v in params.items() if v is not None])
    neg = f"\nNegative prompt: {f['negative_prompt']}" if f["negative_prompt"] else ""
    return f"{f['prompt']}{neg}\n{text}".strip()


def parse_core(x):
    res = {}
    prompt, negative_prompt, done_with_prompt = "", "", False
    *lines, lastline = x.strip().split("\n")
    if len(re_param.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ''
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done_with_prompt = True
            line = line[16:].strip()
        if done_with_prompt:
            negative_prompt += ("" if negative_prompt == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    res["Prompt"] = prompt
    res["Negative prompt"] = negative_prompt
    for k, v in re_param.findall(lastline):
        try:
            if v[0] == '"' and v[-1] == '"':
                v = unquote(v)
            m = re_imagesize.match(v)
            if m is not None:
                res[f"{k}-1"] = m.group(1)
                res[f"{k}-2"] = m.group(2)
            else:
                res[k] = v
        except Exception:
            pass
    return res


def parse_with_defaults(x):
    res = parse_core(x)
    if "Clip skip" not in res:
        res["Clip skip"] = "1"
    hypernet = res.get("Hypernet", None)
    if hypernet is not None:
        res["Prompt"] += f"""<hypernet:{hypernet}:{res.get("Hypernet strength", "1.0")}>"""
    if "Hires resize-1" not in res:
        res["Hires resize-1"] = 0
        res["Hires resize-2"] = 0
    for k, v in [("Hires sampler", "Use same sampler"), ("Hires checkpoint", "Use same checkpoint"),
                 ("Hires prompt", ""), ("Hires negative prompt", ""), ("Mask mode", "Inpaint masked"),
                 ("Masked content", "original"), ("Inpaint area", "Whole picture"), ("Masked area padding", 32)]:
        if k not in res:
            res[k] = v
    fw, fh = res.get('First pass size-1', None), res.get('First pass size-2', None)
    if fw is not None and fh is not None:
        fw, fh = int(fw), int(fh)
        width, height = int(res.get("Size-1", 512)), int(res.get("Size-2", 512))
        if fw == 0 or fh == 0:
            scale = math.sqrt(512 * 512 / (width * height))
            fw, fh = math.ceil(scale * width / 64) * 64, math.ceil(scale * height / 64) * 64
        res['Size-1'], res['Size-2'], res['Hires resize-1'], res['Hires resize-2'] = fw, fh, width, height
    for k, v in [("RNG", "GPU"), ("Schedule type", "Automatic"), ("Schedule max sigma", 0), ("Schedule min sigma", 0),
                 ("Schedule rho", 0), ("VAE Encoder", "Full"), ("VAE Decoder", "Full"), ("FP8 weight", "Disable")]:
        if k not in res:
            res[k] = v
    if "Cache FP16 weight for LoRA" not in res and res["FP8 weight"] != "Disable":
        res["Cache FP16 weight for LoRA"] = False
    return res


BASE = dict(prompt="a cat, (masterpiece:1.2)", negative_prompt="lowres", steps=20, sampler="DPM++ 2M",
            schedule_type="Karras", cfg_scale=7.0, seed=1234, width=512, height=768,
            model_hash="6ce0161689", model="v1-5-pruned-emaonly", version="v1.10.1")


def build_cases():
    v = []
    v.append(dict(BASE))
    v.append(dict(BASE, negative_prompt="", cfg_scale=7.5, schedule_type=None, version=None))
    v.append(dict(BASE, prompt="line one\nline two, with: colon\n\nline four", negative_prompt="neg 1\nneg 2"))
    v.append(dict(BASE, prompt='quotes "inside" and \\ backslash', seed=-5, steps=1, cfg_scale=1e-5))
    v.append(dict(BASE, prompt="猫、かわいい 🐱 é̃ ünïcödé", negative_prompt="悪い, worst quality", model="モデル,v2"))
    v.append(dict(BASE, variation_seed=99, variation_seed_strength=0.35, seed_resize_from=(640, 480),
                  denoising_strength=0.75, clip_skip=2, ensd=31337, rng="CPU", tiling=True,
                  vae="vae-ft-mse", vae_hash="c6a580b13a", face_restoration="CodeFormer", image_cfg_scale=1.5,
                  conditional_mask_weight=1.0, init_image_hash="abc123", token_merging_ratio=0.5, user="me"))
    v.append(dict(BASE, variation_seed=99, variation_seed_strength=0, seed_resize_from=(0, 480), clip_skip=1, rng="GPU"))
    v.append(dict(BASE, extra=[("Hires upscale", 2.0), ("Hires upscaler", "Latent"), ("Hires steps", 10),
                               ("Lora hashes", "add_detail: 7c6bad76eb54, more: 1a2b"), ("TI hashes", 'emb: "x"'),
                               ("Emphasis", "No norm"), ("Mask blur", 4), ("Flag", True), ("Gone", None),
                               ("Denoising strength", 0.3), ("Schedule type", "Exponential"), ("Same", "Same"),
                               ("Multi", "a\nb"), ("Tab", "a\tb,"), ("Ctrl", "x\x01y:")]))
    v.append(dict(BASE, cfg_scale=12345678901234567.0, steps=150, seed=4294967295, width=1024, height=1024))
    v.append(dict(BASE, cfg_scale=0.1 + 0.2, denoising_strength=1.0, extra=[("Version", "override")]))
    v.append(dict(BASE, prompt="  padded prompt  ", negative_prompt="  "))
    v.append(dict(BASE, prompt="", negative_prompt=""))
    return v


PARSE_ONLY = [
    "",
    "just a prompt",
    "prompt\nSteps: 20, Sampler: Euler",
    "prompt\nSteps: 20, Sampler: Euler, CFG scale: 7",
    "prompt\nNegative prompt: bad\nmore negative\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512",
    "p\nSteps: 20, Sampler: Euler, Key: \"unterminated, CFG scale: 7, Seed: 3",
    "p\nSteps: 20, Sampler: Euler, Empty: , CFG scale: 7",
    'p\nSteps: 20, Sampler: Euler, Q: "a \\"b\\" c", J: "x,y", CFG scale: 7',
    'p\nSteps: 20, Sampler: Euler, Qq: "a \\"b\\" c", Jj: "x,y", Kk: "a\\\nb", CFG scale: 7',
    'p\nSteps: 20, Sampler: Euler, Esc: "\\u00e9\\t", Q2: ""',
    "p\nxyz(abc: 1, Steps: 2, Sampler: Euler, odd-key/with space : v",
    "p\nÉtape: 3, Größe: 4x5, Steps: 20, 学习: 1",
    "p\r\nSteps: 20, Sampler: Euler, CFG scale: 7\r",
    "p\nSteps: 20, Sampler: Euler, Size: 512x512x3, Hires resize: 1024x1536, First pass size: 0x0",
    "p\nSteps: 20, Sampler: Euler, Size: 768x512, First pass size: 256x256",
    "p\nSteps: 20, Sampler: Euler, Hypernet: anime, Hypernet strength: 0.5, Seed: 1",
    "p\nSteps: 20, Steps: 30, Sampler: Euler, Seed: 1",
    "p\n\u3000Steps:\t20,\u00a0Sampler:  Euler ,CFG scale:7",
    "Negative prompt: only negative\nSteps: 1, Sampler: Euler, Seed: 2",
    "a\nNegative prompt: b\nNegative prompt: c\nSteps: 1, Sampler: Euler, Seed: 2",
    "p\nSteps: 20, Sampler: Euler, FP8 weight: Enable, Seed: 1",
    "p\nA: \"x\"y, B: 2, C: 3",
    "p\nA: 1,B: 2,C: 3,",
    "p\nSteps: 20, Sampler: Euler, Size: \"64x64\", Multi: \"a\\nb\"",
]


def main():
    build = []
    for f in build_cases():
        text = create_infotext(f)
        fields = {k: (list(v) if isinstance(v, tuple) else v) for k, v in f.items() if k != "extra"}
        build.append({"fields": fields, "extra": [[k, typed(v)] for k, v in f.get("extra", [])], "infotext": text})
    texts = [b["infotext"] for b in build] + PARSE_ONLY
    parse = []
    for t in texts:
        core = parse_core(t)
        full = parse_with_defaults(t)
        parse.append({"text": t, "prompt": core["Prompt"], "negative_prompt": core["Negative prompt"],
                      "params": [[k, v] for k, v in core.items() if k not in ("Prompt", "Negative prompt")],
                      "webui": [[k, v] for k, v in full.items()]})
    write_json(os.path.join(OUT, "cases.json"), {"build": build, "parse": parse})
    print(len(build), "build,", len(parse), "parse")


if __name__ == "__main__":
    main()
