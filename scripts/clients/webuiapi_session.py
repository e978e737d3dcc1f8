"""One session of the real `webuiapi` client (PyPI webuiapi 0.9.17, mix1009/sdwebuiapi) against a
WebUI-compatible server: the calls a typical script makes, with checks on every answer.

    python webuiapi_session.py --port 7860 [--user u --password p] [--record-mode]

In record mode (scripts/clients/record_webuiapi.py runs it against a recording stub) the checks
on the answers' content are skipped. The Rust test tests/http_replay.rs runs it live against
sdgate on the fake backend (when this interpreter has webuiapi).
"""
import argparse
import io
import sys

import webuiapi
from PIL import Image


def session(api: webuiapi.WebUIApi, check: bool) -> list:
    done = []

    def step(name, fn):
        out = fn()
        done.append(name)
        return out

    models = step("get_sd_models", api.get_sd_models)
    options = step("get_options", api.get_options)
    current = step("util_get_current_model", api.util_get_current_model)
    if check:
        assert [m["title"] for m in models] == ["model-a [aaaaaaaaaa]", "model-b [bbbbbbbbbb]"], models
        assert options["sd_model_checkpoint"] == current == "model-a [aaaaaaaaaa]", options
    step("util_set_model", lambda: api.util_set_model("model-b"))
    if check:
        assert api.util_get_current_model() == "model-b [bbbbbbbbbb]"
    samplers = step("util_get_sampler_names", api.util_get_sampler_names)
    schedulers = step("util_get_scheduler_names", api.util_get_scheduler_names)
    if check:
        assert "Euler a" in samplers and "DPM++ 2M" in samplers, samplers
        assert "automatic" in schedulers, schedulers
    for name in ["get_upscalers", "get_latent_upscale_modes", "get_sd_vae", "get_loras", "get_hypernetworks",
                 "get_face_restorers", "get_realesrgan_models", "get_prompt_styles", "get_embeddings",
                 "get_cmd_flags", "get_memory", "get_scripts", "refresh_checkpoints"]:
        step(name, getattr(api, name))

    r = step("txt2img", lambda: api.txt2img(prompt="a cat, (masterpiece:1.2)", negative_prompt="lowres",
                                           seed=1234, width=64, height=64, batch_size=2, steps=3, cfg_scale=6.5))
    if check:
        assert len(r.images) == 2 and r.images[0].size == (64, 64), r.images
        assert r.info["seed"] == 1234 and r.info["all_seeds"] == [1234, 1235], r.info
        assert r.parameters["prompt"] == "a cat, (masterpiece:1.2)", r.parameters
        assert r.info["sd_model_name"] == "model-b", r.info

    r = step("txt2img_hires", lambda: api.txt2img(prompt="a dog", width=64, height=64, steps=2, enable_hr=True,
                                                 hr_scale=2, hr_upscaler=webuiapi.HiResUpscaler.Latent,
                                                 hr_second_pass_steps=1, denoising_strength=0.5,
                                                 sampler_name="DPM++ 2M", scheduler="karras"))
    if check:
        assert r.image.size == (128, 128), r.image.size

    init = Image.new("RGB", (64, 64), (200, 30, 30))
    mask = Image.new("L", (64, 64), 255)
    r = step("img2img", lambda: api.img2img(images=[init], mask_image=mask, prompt="a red cat", width=64,
                                           height=64, steps=2, denoising_strength=0.5, inpainting_fill=1))
    if check:
        assert len(r.images) == 1 and r.image.size == (64, 64)
        assert r.parameters["init_images"] is None

    info = step("png_info", lambda: api.png_info(r.image))
    if check:
        # webuiapi re-encodes the PIL image without its text chunks, so the info is empty.
        assert info.info in ("", {}) or "a red cat" in str(info.info), info.info

    progress = step("get_progress", api.get_progress)
    if check:
        assert progress["progress"] == 0 and progress["state"]["job_count"] == 0, progress
    step("interrupt", api.interrupt)
    step("skip", api.skip)
    step("util_wait_for_ready", lambda: api.util_wait_for_ready(check_interval=0.05))
    try:
        api.extra_single_image(image=init, upscaler_1=webuiapi.Upscaler.Lanczos, upscaling_resize=2)
        raised = None
    except RuntimeError as e:
        raised = e.args[0]
    done.append("extra_single_image")
    if check:
        assert raised == 501, raised
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--record-mode", action="store_true")
    a = ap.parse_args()
    api = webuiapi.WebUIApi(host=a.host, port=a.port, sampler="Euler a", steps=3,
                            username=a.user, password=a.password)
    done = session(api, check=not a.record_mode)
    print("webuiapi session ok:", len(done), "steps")


if __name__ == "__main__":
    sys.exit(main())
