"""Schemathesis hooks and a custom check for scripts/fuzz-api (SCHEMATHESIS_HOOKS=fuzz_hooks).

Data generation (the fuzzing and stateful phases draw through these; values are only ever added
as alternatives, never taken away):
- map_body on generation routes (POST /sdapi/v1/txt2img, /sdapi/v1/img2img, /v1/jobs): a body that
  leaves width, height or steps out (or null) gets 64, 64 and 4 instead of the server's defaults
  (512x512, 50 steps: about 35 s each on 2 CPU cores with the tiny model). Values schemathesis
  draws explicitly are sent unchanged; the server's limit flags set by scripts/fuzz-api
  (--max-image-side 64, --max-steps 8, ...) turn the costly ones into 422s. Without this nearly
  every positive generation case would be a 422 for its defaults, and the pipeline (prompt parser,
  samplers, hires fix, job store, gallery) would go untested.
- flatmap_body: generation bodies also get, as one alternative, width/height/steps/batch_size/n_iter
  set inside the limits with every other field as drawn (random prompts, samplers, seeds and hires
  settings then reach the pipeline, not only the validator); img2img bodies, img2img jobs, png-info
  and extra-single-image get real base64 PNGs as alternatives (an init image, two of them, a mask,
  a PNG with an infotext chunk), since random strings are never decodable images.
- flatmap_path_parameters: GET /gallery/assets/{file} and /gallery/locales/{file} also draw the
  names the server really has (read from /gallery and /gallery/locales at start), so their 200
  answers get checked too.

Checks and bookkeeping:
- check `sdgate_payloads`: image/* bodies start with their format's magic bytes; a 200 from
  txt2img/img2img has base64 PNGs in `images` and a JSON string in `info`.
- filter_failure: drops not_a_server_error (ST101) only for a 5xx the operation documents as a
  deliberate answer: 501 (extra-single-image: no upscaler yet). Logged to $FUZZ_DROPPED_LOG and
  counted by schemathesis as "filtered"; any other 5xx fails the run.
- after_call: logs "<METHOD> <path template> <status> <seconds> <sent method> <sent URL>" per
  request to $FUZZ_CALL_LOG for the summary.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import urllib.request

import schemathesis
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngutil import PNG_MAGIC, make_png  # noqa: E402

_LOG = os.environ.get("FUZZ_CALL_LOG")
_DROPPED = os.environ.get("FUZZ_DROPPED_LOG")
_LOCK = threading.Lock()

GENERATION = {("POST", "/sdapi/v1/txt2img"), ("POST", "/sdapi/v1/img2img"), ("POST", "/v1/jobs")}
CHEAP_DEFAULTS = {"width": 64, "height": 64, "steps": 4}
CHEAP_CORE = {"width": 64, "height": 64, "steps": 4, "batch_size": 1, "n_iter": 1}

_B64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
INIT_PNG = _B64(make_png(64, 64, seed=3))
INIT_PNG_SMALL = _B64(make_png(32, 48, seed=4))
MASK_PNG = _B64(make_png(64, 64, seed=5, gray=True))
INFOTEXT_PNG = _B64(
    make_png(16, 16, seed=6, parameters="a cat\nNegative prompt: lowres\nSteps: 4, Sampler: Euler a, CFG scale: 7, "
             "Seed: 1234, Size: 16x16, Model: tiny-sd1")
)


def _key(op) -> tuple[str, str]:
    return (op.method.upper(), op.path)


@schemathesis.hook
def map_body(ctx, body):
    op = ctx.operation
    if op is None or _key(op) not in GENERATION or not isinstance(body, dict):
        return body
    for key, value in CHEAP_DEFAULTS.items():
        if body.get(key) is None:
            body[key] = value
    return body


@schemathesis.hook
def flatmap_body(ctx, body):
    op = ctx.operation
    if op is None or not isinstance(body, dict):
        return st.just(body)
    key = _key(op)
    variants = []
    if key in GENERATION:
        # The size, step and batch fields inside the server's limits, the other fields as drawn: so
        # random prompts, samplers, seeds and hires settings reach the pipeline more often.
        variants.append({**body, **CHEAP_CORE})
    if key == ("POST", "/sdapi/v1/img2img") or (key == ("POST", "/v1/jobs") and body.get("type") == "img2img"):
        variants = [
            {**body, "init_images": [INIT_PNG]},
            {**body, **CHEAP_CORE, "init_images": [INIT_PNG]},
            {**body, **CHEAP_CORE, "batch_size": 2, "init_images": [INIT_PNG, "data:image/png;base64," + INIT_PNG_SMALL]},
            {**body, **CHEAP_CORE, "init_images": [INIT_PNG], "mask": MASK_PNG},
        ]
    elif key == ("POST", "/sdapi/v1/png-info"):
        variants.append({**body, "image": INFOTEXT_PNG})
        variants.append({**body, "image": "data:image/png;base64," + INIT_PNG_SMALL})
    elif key == ("POST", "/sdapi/v1/extra-single-image"):
        variants.append({**body, "image": INIT_PNG_SMALL})
    return st.sampled_from([body, *variants]) if variants else st.just(body)


def _known_page_files() -> dict[str, list[str]]:
    """The asset and locale file names the server has (empty lists if it can't be asked)."""
    url, auth = os.environ.get("FUZZ_URL"), os.environ.get("FUZZ_AUTH", "")
    out: dict[str, list[str]] = {"/gallery/assets/{file}": [], "/gallery/locales/{file}": []}
    if not url:
        return out
    headers = {"Authorization": "Basic " + _B64(auth.encode())}

    def get(path: str) -> bytes:
        with urllib.request.urlopen(urllib.request.Request(url + path, headers=headers), timeout=10) as r:
            return r.read()

    try:
        html = get("/gallery").decode("utf-8", "replace")
        out["/gallery/assets/{file}"] = sorted(set(re.findall(r'/gallery/assets/([^"\'?#]+)', html)))
        langs = json.loads(get("/gallery/locales"))
        out["/gallery/locales/{file}"] = [f"{lang['code']}.json" for lang in langs.get("languages", [])]
    except Exception as e:  # the run goes on with random names only
        print(f"fuzz_hooks: could not list page files: {e}", file=sys.stderr)
    return out


KNOWN_FILES = _known_page_files()


@schemathesis.hook
def flatmap_path_parameters(ctx, path_parameters):
    op = ctx.operation
    names = KNOWN_FILES.get(op.path) if op is not None and op.method.upper() == "GET" else None
    if not names or not isinstance(path_parameters, dict) or "file" not in path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters] + [{**path_parameters, "file": n} for n in names])


MAGIC = {
    "image/png": (PNG_MAGIC,),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/webp": (b"RIFF",),
}


@schemathesis.check
def sdgate_payloads(ctx, response, case):
    """Image bodies are what their Content-Type says; generation answers carry decodable PNGs."""
    if response.status_code != 200:
        return None
    ctype = (response.headers.get("content-type") or [""])[0].split(";")[0].strip().lower()
    if ctype in MAGIC and not response.content.startswith(MAGIC[ctype]):
        raise AssertionError(f"{ctype} body does not start with the format's magic bytes: {response.content[:16]!r}")
    if ctype == "image/svg+xml" and b"<svg" not in response.content[:2000]:
        raise AssertionError("image/svg+xml body has no <svg element")
    if _key(case.operation) in {("POST", "/sdapi/v1/txt2img"), ("POST", "/sdapi/v1/img2img")}:
        try:
            body = json.loads(response.content)
        except ValueError:
            return None  # not JSON: response_schema_conformance reports it
        # (No count check: send_images=false and interrupted jobs legitimately return fewer images.)
        for i, img in enumerate(body.get("images") or []):
            head = base64.b64decode(img[:24] + "=" * (-len(img[:24]) % 4))
            if not head.startswith(PNG_MAGIC):
                raise AssertionError(f"images[{i}] is not a base64 PNG (starts {img[:24]!r})")
        try:
            info = json.loads(body.get("info") or "null")
        except ValueError:
            info = None
        if not isinstance(info, dict):
            raise AssertionError(f"`info` is not a JSON string of an object: {str(body.get('info'))[:100]!r}")
    return None


DELIBERATE_5XX = {501}


def _documented(operation, status: int) -> bool:
    try:
        return str(status) in (operation.definition.raw.get("responses") or {})
    except AttributeError:
        return False


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    status = getattr(response, "status_code", None)
    if failure.code == "ST101" and status in DELIBERATE_5XX and _documented(case.operation, status):
        if _DROPPED:
            with _LOCK, open(_DROPPED, "a") as f:
                f.write(f"{case.operation.method.upper()} {case.operation.path} {status}\n")
        return False
    return True


@schemathesis.hook
def after_call(ctx, case, response):
    if not _LOG:
        return
    op = case.operation
    req = response.request
    line = f"{op.method.upper()} {op.path} {response.status_code} {response.elapsed:.3f} {req.method} {req.url}\n"
    with _LOCK, open(_LOG, "a") as f:
        f.write(line)
