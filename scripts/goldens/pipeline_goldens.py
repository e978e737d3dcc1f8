#!/usr/bin/env python3
"""End-to-end golden latents for sdgate's generation pipeline on the tiny fixture: txt2img, img2img and
inpainting (standard 4-channel model) with the Euler sampler, computed the AUTOMATIC1111 WebUI's way
(v1.10: modules/processing.py, sd_samplers_kdiffusion.py, sd_samplers_cfg_denoiser.py, rng.py).

    /work/main/.venv/bin/python scripts/goldens/pipeline_goldens.py [--check]

Writes tests/fixtures/pipeline/cases.json, tests/fixtures/pipeline/<case>.safetensors (float32) and the
init image / mask PNGs. `--check` computes everything into memory and compares with the committed files
byte for byte (exit status 1 on a difference). Runs on CPU, one thread, in well under a minute.

Model: tests/fixtures/tiny-sd1/checkpoint/tiny-sd1.safetensors (LDM single-file, fp16 weights), loaded
into diffusers' UNet2DConditionModel / AutoencoderKL and transformers' CLIPTextModel in float32 by the
exporter's own loader (onnx/sdexport: sources.from_checkpoint), i.e. the very modules the ONNX graphs
of tests/fixtures/tiny-sd1/model were traced from. Tokenizer: the fixture's tokenizer.json through
transformers' CLIPTokenizer (pads with EOS 49407, as the WebUI does for SD 1.x).

Starting noise: the WebUI's default "GPU" source (torch.randn on CUDA) as its NumPy port ("NV",
scripts/goldens/rng_philox_np.py): for batch image i, Generator(seed + i).randn((4, h, w)) (the first
call of a fresh generator: ImageRNG.first() without subseed / seed resize). The real CUDA numbers differ
from NV in the last bits (Box-Muller in float32 on the GPU, float64 here), so these are the "NV" goldens.

Schedule: the WebUI's model wrapper is k-diffusion's CompVisDenoiser = DiscreteEpsDDPMDenoiser over the
LDM's alphas_cumprod (betas = linspace(√0.00085, √0.012, 1000) in float64, squared, cumprod in float64,
stored as float32). "Automatic" for Euler = model_wrap.get_sigmas(steps) (uniform t from 999 to 0,
log-linear σ interpolation, a 0 appended); "Karras" = get_sigmas_karras(steps, σ_min, σ_max, rho 7)
with the model's own σ_min/σ_max (float32 .item()).

References and cross-checks (all must agree; the differences are printed and written to cases.json):
  txt2img  primary: diffusers StableDiffusionPipeline + EulerDiscreteScheduler driven with `sigmas=` (the
           WebUI's schedule, trailing 0 included: diffusers takes custom sigmas as given), `latents=` the NV
           noise (the pipeline multiplies by init_noise_sigma = max σ = σ₀, as the WebUI's x = noise·σ₀),
           guidance 7, prompt embeddings made by the pipeline, output_type="latent".
           check: k-diffusion sample_euler over a WebUI-style CFGDenoiser around the same UNet.
  img2img  primary: diffusers StableDiffusionImg2ImgPipeline with strength=1.0 and sigmas = the WebUI's
           sigma_sched (sigmas[steps − t_enc − 1:], t_enc = int(min(strength, 0.999)·steps)), so its
           add_noise gives x = init_latent + noise·sigma_sched[0] as the WebUI. init_latent = the VAE
           posterior MEAN × 0.18215 (sdgate uses the mean; the WebUI samples the posterior with the global
           torch RNG, DiagonalGaussianDistribution.sample()), handed to the pipeline as its `image` (a
           4-channel image is taken as latents); the pipeline module's randn_tensor is patched to return
           the NV noise. The pipeline's own encode path (its preprocess + retrieve_latents "argmax") is
           compared with init_latent separately.  check: k-diffusion as for txt2img.
  inpaint  primary: k-diffusion sample_euler over the WebUI's CFGDenoiser with the mask blend (diffusers'
           inpaint pipeline blends differently: it re-noises the init latents to the next timestep and
           mixes the *sample*, while the WebUI mixes the *denoised* prediction after every model call,
           denoised = init_latent·mask + nmask·denoised, mask_before_denoising False, and once more at the
           end, samples = samples·nmask + init_latent·mask).  check: a hand loop with the diffusers UNet
           and EulerDiscreteScheduler.step fed the blended prediction.
One patch everywhere on diffusers' scheduler: its alphas_cumprod are replaced by the LDM's, because
diffusers computes them in float32 (torch.cumprod) and so maps σ to slightly different timesteps than
the WebUI/k-diffusion; the size of that difference is measured and reported (stock_diffusers_*).

Recorded per case (float32): noise, sigmas (full schedule) / sigma_sched, timesteps (k-diffusion's σ→t
per UNet call), latents_kdiffusion (txt2img/img2img: the k-diffusion cross-check's result), cond /
uncond (the prompt embeddings, [B, 77, 32]), latents_steps (x after each Euler step; the last one is
before the inpaint final blend), latents (the sampler's result, unscaled; for inpaint after the final
blend), image (VAE decoder output for latents / 0.18215, NCHW, nominally [-1, 1] but not clamped: the
tiny random model's images reach about ±3.5); img2img/inpaint also init_image ([-1, 1]), init_latent (posterior mean × 0.18215);
inpaint also mask (pixel mask 0/1, [H, W]) and nmask (the latent mask, [h, w], one channel of the
WebUI's (4, h, w) tile).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "onnx"))

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import save as st_save  # noqa: E402

import rng_philox_np  # noqa: E402
import samplers_reference as ref  # noqa: E402  (k-diffusion 0.1.1.post1 without its heavy __init__)

sampling, external = ref.sampling, ref.external

CHECKPOINT = ROOT / "tests" / "fixtures" / "tiny-sd1" / "checkpoint" / "tiny-sd1.safetensors"
TOKENIZER = ROOT / "tests" / "fixtures" / "tiny-sd1" / "model" / "tokenizer" / "tokenizer.json"
OUT = ROOT / "tests" / "fixtures" / "pipeline"
SCALE = 0.18215  # vae_scaling_factor
FACTOR = 2  # vae_scale_factor of the tiny model (pixels per latent cell)
LATENT_C = 4
INIT_PNG = "init.png"
MASK_PNG = "mask.png"

CASES = [
    dict(name="txt2img_euler", mode="txt2img", prompt="a photo of a cat", negative_prompt="blurry", seed=1234,
         steps=8, cfg_scale=7.0, width=64, height=64, batch_size=1, scheduler="Automatic"),
    dict(name="txt2img_euler_karras_batch2", mode="txt2img", prompt="a photo of a cat", negative_prompt="blurry",
         seed=1234, steps=6, cfg_scale=7.0, width=64, height=48, batch_size=2, scheduler="Karras"),
    dict(name="img2img_euler", mode="img2img", prompt="a red house", negative_prompt="", seed=42, steps=10,
         cfg_scale=5.0, width=64, height=64, batch_size=1, scheduler="Automatic", denoising_strength=0.6),
    dict(name="inpaint_euler", mode="inpaint", prompt="a dog", negative_prompt="", seed=7, steps=8, cfg_scale=7.0,
         width=64, height=64, batch_size=1, scheduler="Automatic", denoising_strength=0.75, mask_blur=0,
         inpainting_fill=1, inpaint_full_res=False),
]


# ------------------------------------------------------------------------------------------ model & inputs

def ldm_alphas_cumprod(n=1000, start=0.00085, end=0.012) -> torch.Tensor:
    """LatentDiffusion.register_schedule: make_beta_schedule('linear') in float64, cumprod in NumPy float64,
    registered as a float32 buffer (the WebUI keeps it float32: use_downcasted_alpha_bar is off)."""
    betas = (torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float64) ** 2).numpy()
    return torch.tensor(np.cumprod(1.0 - betas, axis=0), dtype=torch.float32)


AC = ldm_alphas_cumprod()


def load_models():
    from sdexport.sources import from_checkpoint
    from transformers import CLIPTokenizer

    loaded = from_checkpoint(str(CHECKPOINT), "epsilon")
    for m in (loaded.unet, loaded.vae, loaded.text):
        m.eval().requires_grad_(False)
    tok = CLIPTokenizer(tokenizer_file=str(TOKENIZER), model_max_length=77)
    assert tok.pad_token_id == 49407 and tok.bos_token_id == 49406 and tok.eos_token_id == 49407
    assert abs(loaded.vae.config.scaling_factor - SCALE) < 1e-12
    return loaded.unet, loaded.vae, loaded.text, tok


def encode_text(text_model, tok, prompts: list[str]) -> torch.Tensor:
    """The WebUI's path for plain prompts (one chunk, no emphasis, CLIP skip 1): BOS, tokens, EOS, EOS padding
    to 77; last_hidden_state. ('Original' emphasis with all weights 1 multiplies by 1 and rescales by
    mean/mean = 1 exactly, so it changes nothing.)"""
    ids = tok(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    return text_model(ids)[0]


def nv_noise(seeds: list[int], shape: tuple[int, int, int]) -> torch.Tensor:
    return torch.from_numpy(np.stack([rng_philox_np.Generator(s).randn(shape) for s in seeds]))


def make_init_image() -> Image.Image:
    """A deterministic 64×64 RGB pattern (integer arithmetic only): colour ramps, an XOR texture, a red
    disc and a blue bar."""
    y, x = np.mgrid[0:64, 0:64]
    r = (x * 255) // 63
    g = (y * 255) // 63
    b = ((x ^ y) * 4) & 255
    disc = (x - 22) ** 2 + (y - 40) ** 2 <= 13 ** 2
    bar = (x >= 36) & (x < 58) & (y >= 8) & (y < 19)
    r, g, b = np.where(disc, 210, r), np.where(disc, 35, g), np.where(disc, 40, b)
    r, g, b = np.where(bar, 30, r), np.where(bar, 60, g), np.where(bar, 200, b)
    return Image.fromarray(np.stack([r, g, b], axis=-1).astype(np.uint8), "RGB")


def make_mask() -> Image.Image:
    """A deterministic 64×64 binary mask ("L", 255 = inpaint): an ellipse with edges off the 2-pixel grid,
    so the bicubic latent mask has fractional values before rounding."""
    y, x = np.mgrid[0:64, 0:64]
    inside = (x - 35) ** 2 * 15 ** 2 + (y - 29) ** 2 * 21 ** 2 <= (21 * 15) ** 2
    return Image.fromarray(np.where(inside, 255, 0).astype(np.uint8), "L")


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")  # no metadata chunks: deterministic
    return buf.getvalue()


def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """processing.py: np.array(image).astype(np.float32) / 255, HWC→CHW; images_tensor_to_samples: ·2 − 1."""
    a = np.moveaxis(np.array(img).astype(np.float32) / 255.0, 2, 0)
    return torch.from_numpy(np.ascontiguousarray(a))[None] * 2 - 1  # contiguous NCHW: see pipeline_posterior_mean


def latent_nmask(mask: Image.Image, h: int, w: int) -> np.ndarray:
    """StableDiffusionProcessingImg2Img.init: latmask = init_mask.convert('RGB').resize((w, h)) (PIL's default
    filter: BICUBIC), /255, channel 0, np.around (mask_round); nmask = latmask, mask = 1 − latmask."""
    lat = mask.convert("RGB").resize((w, h))
    lat = np.moveaxis(np.array(lat, dtype=np.float32), 2, 0) / 255
    return np.around(lat[0]), int(((lat[0] > 0) & (lat[0] < 1)).sum())


# ------------------------------------------------------------------------------------------ k-diffusion side

class UNetWrap(external.DiscreteEpsDDPMDenoiser):
    """The WebUI's CompVisDenoiser: ε-model over the LDM alphas_cumprod, get_eps = the UNet."""

    def __init__(self, unet):
        super().__init__(unet, AC, quantize=False)

    def get_eps(self, x, t, cond):
        return self.inner_model(x, t, encoder_hidden_states=cond).sample


class CFGDenoiser:
    """sd_samplers_cfg_denoiser.CFGDenoiser for plain prompts (one cond per image, weight 1): x_in =
    [x, x] (cond images first, then uncond), one batched model call (batch_cond_uncond), denoised[i] =
    uncond[i] + (cond[i] − uncond[i])·(1·cfg), then the mask blend after denoising if a mask is set."""

    def __init__(self, model, cond, uncond, cfg, init_latent=None, mask=None, nmask=None):
        self.model, self.cond, self.uncond, self.cfg = model, cond, uncond, cfg
        self.init_latent, self.mask, self.nmask = init_latent, mask, nmask
        self.timesteps = []

    def __call__(self, x, sigma):
        b = x.shape[0]
        x_in, sigma_in = torch.cat([x, x]), torch.cat([sigma, sigma])
        self.timesteps.append(self.model.sigma_to_t(sigma[:1]))
        x_out = self.model(x_in, sigma_in, cond=torch.cat([self.cond, self.uncond]))
        denoised_uncond = x_out[b:]
        denoised = torch.clone(denoised_uncond)
        for i in range(b):
            denoised[i] += (x_out[i] - denoised_uncond[i]) * (1.0 * self.cfg)
        if self.mask is not None:
            denoised = denoised * self.nmask + self.init_latent * self.mask  # apply_blend (v1.10)
        return denoised


def kdiff_euler(denoiser: CFGDenoiser, x: torch.Tensor, sigmas: torch.Tensor):
    """k-diffusion sample_euler (s_churn 0); returns (result, x after each step)."""
    seen = []
    out = sampling.sample_euler(denoiser, x, sigmas, callback=lambda d: seen.append(d["x"]), disable=True)
    return out, torch.stack(seen[1:] + [out])


# ------------------------------------------------------------------------------------------ diffusers side

def euler_scheduler(patched: bool):
    from diffusers import EulerDiscreteScheduler

    s = EulerDiscreteScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                               beta_schedule="scaled_linear", prediction_type="epsilon",
                               timestep_spacing="linspace", interpolation_type="linear", final_sigmas_type="zero",
                               steps_offset=1)  # steps_offset only matters for "leading" spacing: silences a warning
    if patched:
        s.alphas_cumprod = AC.clone()
    return s


def diffusers_timesteps(sigmas: torch.Tensor, patched: bool) -> torch.Tensor:
    s = euler_scheduler(patched)
    s.set_timesteps(sigmas=sigmas.tolist())
    return s.timesteps.clone()


def run_txt2img_diffusers(mods, case, noise, sigmas, patched=True):
    from diffusers import StableDiffusionPipeline

    unet, vae, text, tok = mods
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet,
                                   scheduler=euler_scheduler(patched), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    b = case["batch_size"]
    steps = []

    def on_step(p, i, t, kw):
        steps.append(kw["latents"].clone())
        return kw

    out = pipe(prompt=[case["prompt"]] * b, negative_prompt=[case["negative_prompt"]] * b,
               height=case["height"], width=case["width"], sigmas=sigmas.tolist(),
               guidance_scale=case["cfg_scale"], latents=noise.clone(), output_type="latent",
               callback_on_step_end=on_step).images
    assert float(pipe.scheduler.init_noise_sigma) == float(sigmas[0])
    cond, uncond = pipe.encode_prompt([case["prompt"]] * b, "cpu", 1, True, [case["negative_prompt"]] * b)
    return out, torch.stack(steps), cond, uncond, pipe.scheduler.timesteps.clone()


def run_img2img_diffusers(mods, case, init_latent, noise, sigma_sched, patched=True):
    """The pipeline gets the init latents themselves (a 4-channel `image` is taken as latents, unscaled), so
    that its result starts from exactly the recorded init_latent; randn_tensor is patched to the NV noise."""
    import diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img as i2i
    from diffusers import StableDiffusionImg2ImgPipeline

    unet, vae, text, tok = mods

    def fixed_noise(shape, generator=None, device=None, dtype=None, layout=None):
        assert tuple(shape) == tuple(noise.shape)
        return noise.clone()

    saved = i2i.randn_tensor
    i2i.randn_tensor = fixed_noise
    try:
        pipe = StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet,
                                              scheduler=euler_scheduler(patched), safety_checker=None,
                                              feature_extractor=None, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        steps = []

        def on_step(p, i, t, kw):
            steps.append(kw["latents"].clone())
            return kw

        out = pipe(prompt=case["prompt"], negative_prompt=case["negative_prompt"], image=init_latent.clone(),
                   strength=1.0, sigmas=sigma_sched.tolist(), guidance_scale=case["cfg_scale"], output_type="latent",
                   callback_on_step_end=on_step).images
    finally:
        i2i.randn_tensor = saved
    return out, torch.stack(steps), pipe.scheduler.timesteps.clone(), pipe


def pipeline_posterior_mean(pipe, vae, init_img: Image.Image) -> torch.Tensor:
    """What the img2img pipeline itself would encode (its preprocess, then the posterior mean, i.e.
    retrieve_latents(sample_mode="argmax")). Its preprocess returns a channels-last tensor, which takes
    another convolution path in torch's CPU kernels than the contiguous one used for init_latent."""
    return vae.encode(pipe.image_processor.preprocess(init_img)).latent_dist.mode()


def run_inpaint_diffusers_loop(unet, cond, uncond, cfg, init_latent, noise, sigma_sched, nmask_t, mask_t):
    """Cross-check for inpainting: the WebUI's semantics written as a diffusers loop (CFG in ε space,
    the blended prediction turned back into an ε for EulerDiscreteScheduler.step)."""
    s = euler_scheduler(True)
    s.set_timesteps(sigmas=sigma_sched.tolist())
    x = init_latent + noise * sigma_sched[0]
    steps = []
    for t in s.timesteps:
        xin = s.scale_model_input(torch.cat([x, x]), t)
        eps_u, eps_c = unet(xin, t, encoder_hidden_states=torch.cat([uncond, cond])).sample.chunk(2)
        eps = eps_u + cfg * (eps_c - eps_u)
        sigma = s.sigmas[s.step_index]
        den = x - sigma * eps
        den = init_latent * mask_t + nmask_t * den
        x = s.step((x - den) / sigma, t, x).prev_sample
        steps.append(x)
    return x * nmask_t + init_latent * mask_t, torch.stack(steps)


# ------------------------------------------------------------------------------------------ cases

def f32(v) -> float:
    return float(np.float32(v))


def maxdiff(a, b) -> float:
    return float((a.double() - b.double()).abs().max())


def schedule(model_wrap, case):
    steps = case["steps"]
    if case["scheduler"] == "Automatic":
        return model_wrap.get_sigmas(steps)
    if case["scheduler"] == "Karras":
        smin, smax = model_wrap.sigmas[0].item(), model_wrap.sigmas[-1].item()
        return sampling.get_sigmas_karras(n=steps, sigma_min=smin, sigma_max=smax, rho=7.0, device="cpu")
    raise ValueError(case["scheduler"])


def webui_request(case) -> dict:
    req = {k: case[k] for k in ("prompt", "negative_prompt", "seed", "steps", "cfg_scale", "width", "height",
                                 "batch_size")}
    req.update(subseed=-1, subseed_strength=0, seed_resize_from_h=-1, seed_resize_from_w=-1, n_iter=1,
               sampler_name="Euler", scheduler=case["scheduler"], eta=None, s_churn=None, restore_faces=False,
               tiling=False, override_settings={"CLIP_stop_at_last_layers": 1, "randn_source": "NV"})
    if case["mode"] in ("img2img", "inpaint"):
        req.update(denoising_strength=case["denoising_strength"], resize_mode=0, initial_noise_multiplier=1.0,
                   init_images=[INIT_PNG])
    if case["mode"] == "inpaint":
        req.update(mask=MASK_PNG, mask_blur=case["mask_blur"], mask_blur_x=case["mask_blur"],
                   mask_blur_y=case["mask_blur"], inpainting_fill=case["inpainting_fill"],
                   inpaint_full_res=case["inpaint_full_res"], inpaint_full_res_padding=0, inpainting_mask_invert=0)
    return req


def run_case(mods, model_wrap, case, init_img, mask_img):
    unet, vae, text, tok = mods
    b, h, w = case["batch_size"], case["height"] // FACTOR, case["width"] // FACTOR
    seeds = [case["seed"] + i for i in range(b)]
    noise = nv_noise(seeds, (LATENT_C, h, w))
    sigmas = schedule(model_wrap, case)
    cond = encode_text(text, tok, [case["prompt"]] * b)
    uncond = encode_text(text, tok, [case["negative_prompt"]] * b)
    tensors = {"noise": noise, "sigmas": sigmas, "cond": cond, "uncond": uncond}
    checks = {}
    derived = {"seeds": seeds, "latent_shape": [b, LATENT_C, h, w], "sigmas": [f32(s) for s in sigmas]}

    if case["mode"] == "txt2img":
        sched = sigmas
        den = CFGDenoiser(model_wrap, cond, uncond, case["cfg_scale"])
        k_out, k_steps = kdiff_euler(den, noise * sigmas[0], sigmas)
        d_out, d_steps, d_cond, d_uncond, d_ts = run_txt2img_diffusers(mods, case, noise, sigmas)
        s_out = run_txt2img_diffusers(mods, case, noise, sigmas, patched=False)[0]
        checks["cond_vs_pipeline_encode_prompt"] = max(maxdiff(cond, d_cond), maxdiff(uncond, d_uncond))
        latents, steps_x = d_out, d_steps
        tensors["latents_kdiffusion"] = k_out
        checks["latents_diffusers_vs_kdiffusion"] = maxdiff(d_out, k_out)
        checks["steps_diffusers_vs_kdiffusion"] = maxdiff(d_steps, k_steps)
        checks["latents_stock_diffusers_vs_reference"] = maxdiff(s_out, d_out)
    else:
        init_image = image_to_tensor(init_img)
        mean = vae.encode(init_image).latent_dist.mean
        init_latent = mean * SCALE
        strength = case["denoising_strength"]
        t_enc = int(min(strength, 0.999) * case["steps"])
        sched = sigmas[case["steps"] - t_enc - 1:]
        tensors.update(init_image=init_image, init_latent=init_latent, sigma_sched=sched)
        derived.update(t_enc=t_enc, sigma_sched_start=case["steps"] - t_enc - 1, unet_calls=t_enc + 1,
                       sigma_sched=[f32(s) for s in sched])
        mask_t = nmask_t = None
        if case["mode"] == "inpaint":
            mask_px = torch.from_numpy((np.array(mask_img, dtype=np.float32) / 255))
            nm, fractional = latent_nmask(mask_img, h, w)
            nmask_t = torch.from_numpy(np.tile(nm[None], (LATENT_C, 1, 1))).float()
            mask_t = torch.from_numpy(np.tile((1.0 - nm)[None], (LATENT_C, 1, 1))).float()
            tensors.update(mask=mask_px, nmask=torch.from_numpy(nm).float())
            derived.update(nmask_ones=int(nm.sum()), nmask_fractional_before_rounding=fractional)
        den = CFGDenoiser(model_wrap, cond, uncond, case["cfg_scale"], init_latent, mask_t, nmask_t)
        k_out, k_steps = kdiff_euler(den, init_latent + noise * sched[0], sched)
        if case["mode"] == "img2img":
            d_out, d_steps, d_ts, pipe = run_img2img_diffusers(mods, case, init_latent, noise, sched)
            s_out = run_img2img_diffusers(mods, case, init_latent, noise, sched, patched=False)[0]
            checks["init_mean_vs_pipeline_preprocess_encode"] = maxdiff(
                mean, pipeline_posterior_mean(pipe, vae, init_img))
            checks["init_mean_channels_last_vs_contiguous"] = maxdiff(
                mean, vae.encode(init_image.contiguous(memory_format=torch.channels_last)).latent_dist.mean)
            latents, steps_x = d_out, d_steps
            tensors["latents_kdiffusion"] = k_out
            checks["latents_diffusers_vs_kdiffusion"] = maxdiff(d_out, k_out)
            checks["steps_diffusers_vs_kdiffusion"] = maxdiff(d_steps, k_steps)
            checks["latents_stock_diffusers_vs_reference"] = maxdiff(s_out, d_out)
        else:
            latents = k_out * nmask_t + init_latent * mask_t  # StableDiffusionProcessingImg2Img.sample
            steps_x = k_steps
            l_out, l_steps = run_inpaint_diffusers_loop(unet, cond, uncond, case["cfg_scale"], init_latent, noise,
                                                        sched, nmask_t, mask_t)
            d_ts = diffusers_timesteps(sched, True)
            checks["latents_kdiffusion_vs_diffusers_loop"] = maxdiff(latents, l_out)
            checks["steps_kdiffusion_vs_diffusers_loop"] = maxdiff(k_steps, l_steps)
            checks["unmasked_latents_equal_init_latent"] = maxdiff(latents * mask_t, init_latent * mask_t)

    checks["latents_max_abs"] = float(latents.abs().max())
    k_ts = torch.cat(den.timesteps)
    tensors["timesteps"] = k_ts
    derived["timesteps"] = [f32(t) for t in k_ts]
    checks["timesteps_diffusers_vs_kdiffusion"] = maxdiff(d_ts, k_ts)
    checks["timesteps_stock_diffusers_vs_kdiffusion"] = maxdiff(diffusers_timesteps(sched, False), k_ts)
    image = vae.decode(latents / SCALE).sample
    tensors.update(latents_steps=steps_x, latents=latents, image=image)
    return {k: v.detach().to(torch.float32).contiguous().clone() for k, v in tensors.items()}, derived, checks


NOTES = {
    "txt2img": "x = noise·sigmas[0]; k-diffusion sample_euler over the WebUI CFGDenoiser; reference values from "
               "diffusers StableDiffusionPipeline with these sigmas (agreement in checks).",
    "img2img": "init_latent = VAE posterior MEAN × 0.18215 (the WebUI samples the posterior with the global torch "
               "RNG; sdgate uses the mean); t_enc = int(min(strength, 0.999)·steps); sigma_sched = "
               "sigmas[steps − t_enc − 1:]; x = init_latent + noise·sigma_sched[0]; Euler over sigma_sched "
               "(t_enc + 1 UNet calls); reference values from diffusers StableDiffusionImg2ImgPipeline (strength 1, "
               "sigmas = sigma_sched, posterior mean, NV noise).",
    "inpaint": "standard 4-channel model, the WebUI's way: img2img as above on the unmodified image "
               "(inpainting_fill 1 = original), nmask = around(bicubic resize of the mask to latent size / 255), "
               "mask = 1 − nmask; after every CFG denoiser call denoised = denoised·nmask + init_latent·mask; "
               "at the end latents = samples·nmask + init_latent·mask (latents_steps are before that blend). "
               "Reference values from k-diffusion sample_euler (diffusers' inpaint pipeline blends differently). "
               "The WebUI then pastes the original pixels back outside the mask (overlay) on the 8-bit image: "
               "not part of these tensors.",
}


def build():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    mods = load_models()
    model_wrap = UNetWrap(mods[0])
    init_img, mask_img = make_init_image(), make_mask()
    files = {INIT_PNG: png_bytes(init_img), MASK_PNG: png_bytes(mask_img)}
    for name, img in ((INIT_PNG, init_img), (MASK_PNG, mask_img)):  # what a client would send decodes the same
        assert np.array_equal(np.array(Image.open(io.BytesIO(files[name]))), np.array(img))
    out_cases, all_checks = [], {}
    with torch.no_grad():
        for case in CASES:
            tensors, derived, checks = run_case(mods, model_wrap, case, init_img, mask_img)
            fname = f"{case['name']}.safetensors"
            # one metadata key: safetensors writes the metadata map in hash order (several keys: not reproducible)
            files[fname] = st_save(tensors, metadata={"about": f"{case['name']}: scripts/goldens/pipeline_goldens.py"})
            entry = {"name": case["name"], "mode": case["mode"],
                     "endpoint": "/sdapi/v1/txt2img" if case["mode"] == "txt2img" else "/sdapi/v1/img2img",
                     "request": webui_request(case), "file": fname,
                     "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())},
                     "derived": derived, "checks": checks, "notes": NOTES[case["mode"]]}
            if case["mode"] != "txt2img":
                entry["init_image_file"] = INIT_PNG
            if case["mode"] == "inpaint":
                entry["mask_file"] = MASK_PNG
            out_cases.append(entry)
            all_checks[case["name"]] = checks
    doc = {
        "about": "End-to-end Euler goldens on tests/fixtures/tiny-sd1 (fp16 checkpoint run in float32 torch), the "
                 "AUTOMATIC1111 WebUI v1.10 semantics with the NV noise source (NumPy port of the GPU Philox "
                 "randn). Made by scripts/goldens/pipeline_goldens.py (see its docstring).",
        "model": {"checkpoint": "tests/fixtures/tiny-sd1/checkpoint/tiny-sd1.safetensors",
                  "model_folder": "tests/fixtures/tiny-sd1/model", "vae_scaling_factor": SCALE,
                  "vae_scale_factor": FACTOR, "latent_channels": LATENT_C,
                  "sigma_min": f32(model_wrap.sigmas[0]), "sigma_max": f32(model_wrap.sigmas[-1])},
        "conventions": {
            "noise": "[B, 4, h, w]: image i = rng_philox Generator(seed + i).randn((4, h, w)), first call",
            "sigmas": "the full schedule with the trailing 0 (steps + 1 values)",
            "timesteps": "UNet timestep per model call: k-diffusion DiscreteSchedule.sigma_to_t(sigma), float32",
            "cond/uncond": "[B, 77, 32] last_hidden_state of the text encoder (prompt / negative prompt)",
            "latents_steps": "[n, B, 4, h, w]: x after each Euler step",
            "latents": "[B, 4, h, w]: the sampler's result, unscaled (VAE input = latents / 0.18215)",
            "latents_kdiffusion": "txt2img/img2img: the same from k-diffusion sample_euler over the WebUI's "
                                  "CFGDenoiser (CFG on denoised, k-diffusion σ→t): the WebUI's own arithmetic",
            "image": "[B, 3, H, W]: VAE decoder output, not clamped; the WebUI's 8-bit image is "
                     "uint8(255·clamp((x + 1) / 2, 0, 1)) (truncation)",
            "init_image": "[1, 3, H, W] = init.png / 255 · 2 − 1",
            "init_latent": "[1, 4, h, w] = VAE encoder posterior mean × 0.18215",
            "mask": "[H, W] = mask.png / 255 (binary)", "nmask": "[h, w] latent mask (1 = repaint)",
        },
        "cases": out_cases,
    }
    files["cases.json"] = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode()
    return files, all_checks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = ap.parse_args()
    files, checks = build()
    for name, c in checks.items():
        print(name)
        for k, v in c.items():
            print(f"  {k:45s} {v:.3e}")
    total = sum(len(b) for b in files.values())
    print(f"fixtures: {len(files)} files, {total} bytes")
    if args.check:
        bad = [n for n, b in files.items() if not (OUT / n).is_file() or (OUT / n).read_bytes() != b]
        print("check:", "OK" if not bad else f"differ: {bad}")
        return 1 if bad else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for n, b in sorted(files.items()):
        (OUT / n).write_bytes(b)
        print(f"  {n:40s} {len(b):8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
