"""Write tests/fixtures/clients/{open_webui,sillytavern}.json: the calls Open WebUI and SillyTavern
make to an AUTOMATIC1111 server, transcribed call by call from their sources (cited in each file),
in the order a user's session makes them. (webuiapi is recorded from the real client instead:
record_webuiapi.py.)

Placeholders the replay (tests/http_replay.rs) fills in:
  "$OPTIONS_WITH" : {...}  the body is the last GET /sdapi/v1/options answer with these keys changed
                           (Open WebUI posts the whole dict back).
"""
import base64
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "clients")
AUTH = "Basic " + base64.b64encode(b"user:pass").decode()
MODEL_B = "model-b [bbbbbbbbbb]"


def call(method, path, body=None, **extra):
    c = {"method": method, "path": path, "authorization": AUTH}
    if body is not None:
        c["body"] = body
    c.update(extra)
    return c


open_webui = {
    "client": "Open WebUI",
    "source": "open-webui/open-webui backend/open_webui/routers/images.py @ 02530d501461ce58ab06231d7c2ef2024a141ddf "
              "(verify_url, get_models, set_image_model, get_image_model, image_generations)",
    "calls": [
        # Settings → Images → verify the URL.
        call("GET", "/sdapi/v1/options"),
        # The model list: id = title, name = model_name.
        call("GET", "/sdapi/v1/sd-models"),
        # set_image_model: read the options, change sd_model_checkpoint, post the whole dict back.
        call("GET", "/sdapi/v1/options"),
        call("POST", "/sdapi/v1/options", {"$OPTIONS_WITH": {"sd_model_checkpoint": MODEL_B}}),
        # image_generations: get_image_model, then txt2img with size "WxH", n, steps, negative prompt
        # and the admin's AUTOMATIC1111_PARAMS merged in.
        call("GET", "/sdapi/v1/options", expect_model=MODEL_B),
        call("POST", "/sdapi/v1/txt2img", {
            "prompt": "a lighthouse at dusk", "batch_size": 2, "width": 64, "height": 64, "steps": 3,
            "negative_prompt": "blurry", "cfg_scale": 7, "sampler_name": "Euler a", "scheduler": "Automatic",
        }),
        # Without credentials configured Open WebUI sends an empty authorization header.
        {"method": "GET", "path": "/sdapi/v1/options", "authorization": "", "expect_status": 401},
    ],
}

sillytavern = {
    "client": "SillyTavern",
    "source": "SillyTavern/SillyTavern src/endpoints/stable-diffusion.js @ 02903fdd3ad33dc642fb328e43d0a8b3724e1a38 "
              "(ping, upscalers, vaes, samplers, schedulers, models, get-model, set-model, generate) and "
              "public/scripts/extensions/stable-diffusion/index.js (generateAutoImage's body)",
    "calls": [
        call("GET", "/sdapi/v1/options"),  # ping
        call("GET", "/sdapi/v1/upscalers"),
        call("GET", "/sdapi/v1/latent-upscale-modes"),
        call("GET", "/sdapi/v1/sd-vae"),
        # Forge's module list: allowed to fail (Promise.allSettled).
        call("GET", "/sdapi/v1/sd-modules", expect_status=404),
        call("GET", "/sdapi/v1/samplers"),
        call("GET", "/sdapi/v1/schedulers"),
        call("GET", "/sdapi/v1/sd-models"),
        call("GET", "/sdapi/v1/options"),  # get-model
        # set-model, then poll progress until progress === 0.0 && job_count === 0.
        call("POST", "/sdapi/v1/options", {"sd_model_checkpoint": MODEL_B}),
        call("GET", "/sdapi/v1/progress", expect_idle=True),
        # generate: options (checks for forge_preset), then the whole request body, url and auth included.
        call("GET", "/sdapi/v1/options"),
        call("POST", "/sdapi/v1/txt2img", {
            "url": "http://127.0.0.1:7860", "auth": "user:pass",
            "prompt": "best quality, absurdres, aesthetic, a knight", "negative_prompt": "lowres, bad anatomy",
            "sampler_name": "DDIM", "scheduler": "normal", "steps": 3, "cfg_scale": 7, "width": 64, "height": 64,
            "restore_faces": False, "enable_hr": False, "hr_upscaler": "Latent", "hr_scale": 2.0,
            "denoising_strength": 0.7, "hr_second_pass_steps": 0, "seed": -1, "clip_skip": 1,
            "override_settings": {"CLIP_stop_at_last_layers": 1, "sd_vae": "Automatic"},
            "override_settings_restore_afterwards": True,
            "save_images": True, "send_images": True, "do_not_save_grid": False, "do_not_save_samples": False,
        }),
        # When the browser goes away mid-generation SillyTavern posts interrupt.
        call("POST", "/sdapi/v1/interrupt"),
    ],
}

for name, data in [("open_webui", open_webui), ("sillytavern", sillytavern)]:
    path = os.path.join(OUT, f"{name}.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(path))
