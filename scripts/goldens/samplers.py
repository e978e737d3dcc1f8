#!/usr/bin/env python3
"""Golden trajectories for src/samplers: runs k-diffusion 0.1.1.post1's samplers and the WebUI's own
(see samplers_reference.py) with analytic denoisers and recorded noise, and writes
tests/fixtures/samplers/goldens.json for tests/samplers_golden.rs.

Run:  /work/main/.venv/bin/python scripts/goldens/samplers.py
Needs: torch, numpy, scipy, torchsde, torchdiffeq, k-diffusion==0.1.1.post1 (installed with --no-deps;
its __init__ is bypassed), diffusers (for the cosine/linear beta references).

Denoisers (data ~ N(0, s²) and a non-linear one), as functions of (x, σ):
  lin:   D = x·s²/(σ²+s²), s = 0.8        tanh: D = 1.1·tanh(x·s²/(σ²+s²)) − 0.05
  uncond (DDIM CFG++ only): lin with s = 0.5, combined with CFG scale 7 as the WebUI does.
Modes: "direct" hands D to k-diffusion as the model; "eps"/"v" wrap an ε/v-predicting "UNet" built from D
at σ(t) (k-diffusion t_to_sigma) in the WebUI's model wrappers (CompVisDenoiser, CompVisVDenoiser, the LCM
denoiser, the timestep samplers' ε calls), so the Rust side must reproduce c_in, the timesteps and D.
Noise: torch.randn_like is hijacked like the WebUI's TorchHijack and the Brownian noise_sampler replaced,
both returning entries of a fixed pool per latent shape in call order and recording the calls (count, and
the (σ, σ_next) of every noise_sampler call), which the Rust side replays and checks.
"""

import inspect
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import samplers_reference as ref  # noqa: E402

sampling, external = ref.sampling, ref.external
torch.set_default_dtype(torch.float32)

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "samplers", "goldens.json")
SHAPES = {"A": (1, 4, 4, 4), "B": (2, 4, 3, 5)}
POOL = 12


def f32list(t):
    return [float(np.format_float_positional(np.float32(v), unique=True)) for v in np.asarray(t, dtype=np.float32).reshape(-1)]


# --- the model: SD 1.5 schedule as the LDM computes it -------------------------------------------------

def ldm_alphas_cumprod(n=1000, start=0.00085, end=0.012):
    betas = (torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float64) ** 2).numpy()
    ac = np.cumprod(1.0 - betas, axis=0)
    return torch.tensor(ac, dtype=torch.float32)


AC = ldm_alphas_cumprod()


class FakeSdModel:
    """What the WebUI's wrappers read from sd_model: alphas_cumprod and apply_model."""

    def __init__(self, fn):
        self.alphas_cumprod = AC
        self.fn = fn

    def apply_model(self, x, t, cond=None, **kwargs):
        return self.fn(x, t)


TABLE = external.CompVisDenoiser(FakeSdModel(None))  # k-diffusion's σ table (f32) for t_to_sigma


def den_lin(x, sigma, s=0.8):
    return x * (s * s / (sigma ** 2 + s * s))


def den_tanh(x, sigma, s=0.8):
    return 1.1 * torch.tanh(x * (s * s / (sigma ** 2 + s * s))) - 0.05


def den_uncond(x, sigma):
    return den_lin(x, sigma, 0.5)


DENOISERS = {"lin": den_lin, "tanh": den_tanh}
CFG_SCALE = 7.0


def bcast(v, x):
    v = torch.as_tensor(v, dtype=torch.float32)
    return v.reshape(-1, *([1] * (x.ndim - 1))) if v.ndim else v


def unet(den, kind):
    """An ε or v "UNet" (x_in = c_in·x, t) built from the analytic D at σ = t_to_sigma(t)."""

    def fn(x_in, t):
        t = torch.as_tensor(t, dtype=torch.float32).reshape(-1)
        if t.shape[0] == 1:
            t = t.expand(x_in.shape[0])
        sig = bcast(TABLE.t_to_sigma(t), x_in)
        xk = x_in * (sig ** 2 + 1) ** 0.5
        d = den(xk, sig)
        if kind == "eps":
            return (xk - d) / sig
        c_skip = 1 / (sig ** 2 + 1)
        c_out = -sig / (sig ** 2 + 1) ** 0.5
        return (d - c_skip * xk) / c_out

    return fn


def make_pools():
    """One set of arrays per latent shape, shared by all cases: the starting noise, an init latent for
    img2img, and the pools the recorded randn_like / noise_sampler calls return in order (cyclically)."""
    out = {}
    for i, (name, shape) in enumerate(sorted(SHAPES.items())):
        g = np.random.default_rng(1234 + i)
        t = lambda scale=1.0: torch.tensor(g.standard_normal(shape) * scale, dtype=torch.float32)
        out[name] = {"noise": t(), "init": t(0.7), "randn": [t() for _ in range(POOL)], "sde": [t() for _ in range(POOL)]}
    return out


POOLS = make_pools()


class Recorder:
    def __init__(self, shape_name):
        self.randn_pool = POOLS[shape_name]["randn"]
        self.sde_pool = POOLS[shape_name]["sde"]
        self.randn_calls = 0
        self.sde_calls = []
        self.evals = []

    # modules/sd_samplers_common.py TorchHijack
    def __getattr__(self, item):
        if item == "randn_like":
            return self.randn_like
        return getattr(torch, item)

    def randn_like(self, x):
        n = self.randn_pool[self.randn_calls % POOL]
        self.randn_calls += 1
        return n.clone()

    def noise_sampler(self, sigma, sigma_next):
        self.sde_calls.append([float(sigma), float(sigma_next)])
        n = self.sde_pool[(len(self.sde_calls) - 1) % POOL]
        return n.clone()


class TimestepModel:
    """The WebUI's CFGDenoiserTimesteps as the timestep samplers see it: model(x_vp, t) → ε."""

    def __init__(self, den, rec):
        self.inner_model = type("W", (), {"inner_model": FakeSdModel(None)})()
        self.den, self.rec = den, rec
        self.cond_scale_miltiplier = 1.0
        self.need_last_noise_uncond = False
        self.last_noise_uncond = None

    def __call__(self, x, t, **kwargs):
        t = torch.as_tensor(t, dtype=torch.float32).reshape(-1)
        self.rec.evals.append(float(t[0]))
        eps_c = unet(self.den, "eps")(x, t)
        if not self.need_last_noise_uncond:
            return eps_c
        eps_u = unet(den_uncond, "eps")(x, t)
        self.last_noise_uncond = eps_u.clone()
        return eps_u + (eps_c - eps_u) * (CFG_SCALE * self.cond_scale_miltiplier)


KD_SAMPLERS = {
    "DPM++ 2M": ("sample_dpmpp_2m", {"scheduler": "Karras"}),
    "DPM++ SDE": ("sample_dpmpp_sde", {"scheduler": "Karras", "brownian_noise": True}),
    "DPM++ 2M SDE": ("sample_dpmpp_2m_sde", {"scheduler": "Exponential", "brownian_noise": True}),
    "DPM++ 2M SDE Heun": ("sample_dpmpp_2m_sde", {"scheduler": "Exponential", "brownian_noise": True, "solver_type": "heun"}),
    "DPM++ 2S a": ("sample_dpmpp_2s_ancestral", {"scheduler": "Karras"}),
    "DPM++ 3M SDE": ("sample_dpmpp_3m_sde", {"scheduler": "Exponential", "discard_next_to_last_sigma": True, "brownian_noise": True}),
    "Euler a": ("sample_euler_ancestral", {}),
    "Euler": ("sample_euler", {}),
    "LMS": ("sample_lms", {}),
    "Heun": ("sample_heun", {}),
    "DPM2": ("sample_dpm_2", {"scheduler": "Karras", "discard_next_to_last_sigma": True}),
    "DPM2 a": ("sample_dpm_2_ancestral", {"scheduler": "Karras", "discard_next_to_last_sigma": True}),
    "DPM fast": ("sample_dpm_fast", {}),
    "DPM adaptive": ("sample_dpm_adaptive", {}),
    "Restart": (ref.restart_sampler, {"scheduler": "Karras"}),
    "LCM": (ref.sample_lcm, {}),
}
TS_SAMPLERS = {"DDIM": ref.ddim, "DDIM CFG++": ref.ddim_cfgpp, "PLMS": ref.plms, "UniPC": ref.unipc}
# modules/sd_samplers_kdiffusion.py sampler_extra_params
EXTRA_PARAMS = {
    "sample_euler": ["s_churn", "s_tmin", "s_tmax", "s_noise"],
    "sample_heun": ["s_churn", "s_tmin", "s_tmax", "s_noise"],
    "sample_dpm_2": ["s_churn", "s_tmin", "s_tmax", "s_noise"],
    "sample_dpm_fast": ["s_noise"],
    "sample_dpm_2_ancestral": ["s_noise"],
    "sample_dpmpp_2s_ancestral": ["s_noise"],
    "sample_dpmpp_sde": ["s_noise"],
    "sample_dpmpp_2m_sde": ["s_noise"],
    "sample_dpmpp_3m_sde": ["s_noise"],
}


def run_case(c):
    name, shape = c["sampler"], SHAPES[c["shape"]]
    den = DENOISERS[c["denoiser"]]
    rec = Recorder(c["shape"])
    noise0 = POOLS[c["shape"]]["noise"].clone()
    init = POOLS[c["shape"]]["init"].clone()
    params = {"eta": None, "s_churn": 0.0, "s_tmin": 0.0, "s_tmax": 0.0, "s_noise": 1.0, **c.get("params", {})}
    opts = c.get("opts", {})
    sampling.torch = rec
    img2img = c["pass"] != "txt2img"
    steps = c["steps"]
    if img2img:
        steps, t_enc = ref.setup_img2img_steps(
            c["steps"], c["strength"], steps=c["steps"] if c["pass"] == "hires" else None,
            img2img_fix_steps=opts.get("img2img_fix_steps", False))

    with torch.no_grad():
        if name in TS_SAMPLERS:
            func = TS_SAMPLERS[name]
            model = TimestepModel(den, rec)
            timesteps = ref.get_timesteps(steps, opts.get("always_discard_next_to_last_sigma", False))
            kw = {}
            if img2img:
                sched = timesteps[:t_enc]
                a = AC[timesteps[t_enc]]
                x = init * torch.sqrt(a) + noise0 * torch.sqrt(1 - a)
                kw["timesteps"] = sched
                if name == "UniPC":
                    kw["is_img2img"] = True
            else:
                x = noise0.clone()
                kw["timesteps"] = timesteps
            if "eta" in inspect.signature(func).parameters:
                kw["eta"] = params["eta"] if params["eta"] is not None else 0.0
            if name == "UniPC":
                kw["order"] = max(1, min(3, len(kw["timesteps"])))  # sdgate lowers the order; the WebUI asserts
            try:
                out = func(model, x, **kw)
            except IndexError as e:  # UniPC img2img with t_enc = 0
                c["webui_error"] = f"{type(e).__name__}: {e}"
                out = None
        else:
            funcname, options = KD_SAMPLERS[name]
            func = getattr(sampling, funcname) if isinstance(funcname, str) else funcname
            fname = funcname if isinstance(funcname, str) else func.__name__
            sig_params = inspect.signature(func).parameters
            if name == "LCM":
                wrap = ref.LCMCompVisDenoiser(FakeSdModel(unet(den, "eps")))
            elif c["mode"] == "v":
                wrap = external.CompVisVDenoiser(FakeSdModel(unet(den, "v")))
            else:
                wrap = external.CompVisDenoiser(FakeSdModel(unet(den, "eps")))

            def model(x, sigma, **kwargs):
                rec.evals.append(float(sigma.reshape(-1)[0]))
                if c["mode"] == "direct":
                    return den(x, bcast(sigma, x))
                return wrap(x, sigma, cond=None)

            label = c["schedule"] if c["schedule"] != "Automatic" else options.get("scheduler")
            discard = options.get("discard_next_to_last_sigma", False) or opts.get("always_discard_next_to_last_sigma", False)
            sigmas = ref.get_sigmas(wrap, steps, label, discard, is_sdxl=c.get("sdxl", False),
                                    opt_sigma_min=opts.get("sigma_min", 0.0), opt_sigma_max=opts.get("sigma_max", 0.0),
                                    opt_rho=opts.get("rho", 0.0))
            kw = {}
            if img2img:
                sched = sigmas[steps - t_enc - 1:]
                x = init + noise0 * sched[0]
                if "sigma_min" in sig_params:
                    kw["sigma_min"] = sched[-2]
                if "sigma_max" in sig_params:
                    kw["sigma_max"] = sched[0]
                if "n" in sig_params:
                    kw["n"] = len(sched) - 1
                if "sigmas" in sig_params:
                    kw["sigmas"] = sched
            else:
                x = noise0 * (torch.sqrt(1.0 + sigmas[0] ** 2.0) if opts.get("sgm_noise_multiplier") else sigmas[0])
                if "n" in sig_params:
                    kw["n"] = steps
                if "sigma_min" in sig_params:
                    kw["sigma_min"] = wrap.sigmas[0].item()
                    kw["sigma_max"] = wrap.sigmas[-1].item()
                if "sigmas" in sig_params:
                    kw["sigmas"] = sigmas
            if options.get("brownian_noise"):
                kw["noise_sampler"] = rec.noise_sampler
            if options.get("solver_type") == "heun":
                kw["solver_type"] = "heun"
            for p in EXTRA_PARAMS.get(fname, []):
                if p in sig_params:
                    v = params[p]
                    kw[p] = (v or float("inf")) if p == "s_tmax" else v
            if "eta" in sig_params:
                kw["eta"] = params["eta"] if params["eta"] is not None else 1.0
            if "disable" in sig_params:
                kw["disable"] = True
            try:
                out = func(model, x, **kw)
            except (UnboundLocalError, NameError, ValueError) as e:  # 2M/3M SDE at one step; DPM fast σmin = σmax
                c["webui_error"] = f"{type(e).__name__}: {e}"
                out = None
    c["randn_calls"] = rec.randn_calls
    c["sde_calls"] = [f32list(p) for p in rec.sde_calls]
    c["evals"] = f32list(rec.evals)
    c["final"] = f32list(out) if out is not None else None
    return c


def cases():
    out = []
    cycle = ["Uniform", "Karras", "Exponential", "Polyexponential", "SGM Uniform", "KL Optimal", "Align Your Steps",
             "Simple", "Normal", "DDIM", "Beta"]
    seed = 1
    base = lambda **kw: {"pass": "txt2img", "shape": "A", "denoiser": "lin", "mode": "direct", "schedule": "Automatic", **kw}

    def add(**kw):
        nonlocal seed
        c = base(**kw)
        if c["sampler"] == "LCM" and c["mode"] == "direct":
            c["mode"] = "eps"
        if c["sampler"] in TS_SAMPLERS:
            c["mode"] = "eps"
        c["seed"] = seed
        seed += 1
        out.append(c)

    names = list(KD_SAMPLERS) + list(TS_SAMPLERS)
    for idx, name in enumerate(names):
        scheds = ["Automatic", cycle[(2 * idx) % 11], cycle[(2 * idx + 1) % 11]]
        for sched in scheds:
            for steps in (1, 2, 10, 30):
                add(sampler=name, schedule=sched, steps=steps)
        add(sampler=name, steps=10, shape="B", denoiser="tanh")
        add(sampler=name, steps=10, shape="B", **{"pass": "img2img"}, strength=0.6)
        add(sampler=name, steps=10, **{"pass": "img2img"}, strength=0.05)  # t_enc = 0: one step
        add(sampler=name, steps=20, **{"pass": "img2img"}, strength=0.2)
        add(sampler=name, steps=5, **{"pass": "hires"}, strength=0.5, shape="B")
    # parameters
    churn = {"s_churn": 2.0, "s_tmin": 0.1, "s_tmax": 5.0, "s_noise": 0.95}
    for name in ("Euler", "Heun", "DPM2"):
        add(sampler=name, steps=10, params=churn, shape="B")
    add(sampler="Euler", steps=10, params={"s_churn": 1.0})
    add(sampler="Euler a", steps=10, params={"eta": 0.5, "s_noise": 0.5})
    add(sampler="DPM2 a", steps=10, params={"eta": 0.7, "s_noise": 0.9})
    add(sampler="DPM++ 2S a", steps=10, params={"eta": 0.0})
    add(sampler="DPM++ SDE", steps=10, params={"eta": 0.6, "s_noise": 0.9}, shape="B")
    add(sampler="DPM++ 2M SDE", steps=10, params={"eta": 0.0})
    add(sampler="DPM++ 2M SDE Heun", steps=10, params={"eta": 0.4, "s_noise": 0.8})
    add(sampler="DPM++ 3M SDE", steps=10, params={"eta": 0.5})
    add(sampler="DPM fast", steps=10, params={"eta": 0.0})
    add(sampler="DPM fast", steps=10, params={"eta": 0.5, "s_noise": 0.9})
    add(sampler="DPM adaptive", steps=10, params={"eta": 0.0})
    add(sampler="DDIM", steps=10, params={"eta": 0.7}, shape="B")
    add(sampler="DDIM CFG++", steps=10, params={"eta": 0.3})
    # the model path: ε and v UNets through k-diffusion's wrappers
    for name in ("Euler a", "DPM++ 2M", "DPM++ SDE", "Heun", "DPM adaptive"):
        add(sampler=name, steps=10, mode="eps", shape="B")
        add(sampler=name, steps=10, mode="v")
    # options
    add(sampler="Euler", steps=10, schedule="Karras", opts={"sigma_min": 1e-4})  # tiny σ_min
    add(sampler="DPM++ 2M", steps=10, schedule="Exponential", opts={"sigma_min": 1e-4})
    add(sampler="DPM++ 2M SDE", steps=10, schedule="Karras", opts={"sigma_min": 1e-4})
    add(sampler="LMS", steps=30, schedule="Karras", opts={"sigma_min": 1e-4, "rho": 3.0})
    add(sampler="DPM++ 2M", steps=10, schedule="Polyexponential", opts={"rho": 2.0, "sigma_max": 20.0})
    add(sampler="Euler", steps=10, schedule="Karras", opts={"always_discard_next_to_last_sigma": True})
    add(sampler="DDIM", steps=10, opts={"always_discard_next_to_last_sigma": True})
    add(sampler="Euler a", steps=10, opts={"sgm_noise_multiplier": True})
    add(sampler="Euler", steps=10, **{"pass": "img2img"}, strength=0.5, opts={"img2img_fix_steps": True})
    add(sampler="DPM++ 2M", steps=11, schedule="Align Your Steps", sdxl=True)
    add(sampler="DPM++ 2M", steps=15, schedule="Align Your Steps", sdxl=True)
    return out


def schedule_goldens():
    """Every schedule × steps for the standard and LCM tables, through the WebUI's get_sigmas."""
    out = []
    std = external.CompVisDenoiser(FakeSdModel(None))
    lcm = ref.LCMCompVisDenoiser(FakeSdModel(None))
    for table_name, wrap in (("standard", std), ("lcm", lcm)):
        for label in [s[1] for s in ref.SCHEDULERS]:
            for n in (1, 2, 3, 10, 11, 30):
                for sdxl in ((False, True) if label == "Align Your Steps" else (False,)):
                    sig = ref.get_sigmas(wrap, n, None if label == "Automatic" else label, False, is_sdxl=sdxl)
                    out.append({"table": table_name, "schedule": label, "steps": n, "sdxl": sdxl, "sigmas": f32list(sig)})
    for opts in ({"sigma_min": 1e-4}, {"sigma_max": 20.0, "rho": 3.0}):
        for label in ("Karras", "Exponential", "Polyexponential", "KL Optimal", "Beta", "SGM Uniform", "Normal"):
            sig = ref.get_sigmas(std, 12, label, False, opt_sigma_min=opts.get("sigma_min", 0.0),
                                 opt_sigma_max=opts.get("sigma_max", 0.0), opt_rho=opts.get("rho", 0.0))
            out.append({"table": "standard", "schedule": label, "steps": 12, "sdxl": False, "opts": opts, "sigmas": f32list(sig)})
    return out


def model_goldens():
    from diffusers import DDPMScheduler

    std = external.CompVisDenoiser(FakeSdModel(None))
    lcm = ref.LCMCompVisDenoiser(FakeSdModel(None))
    probe = torch.tensor([0.0292, 0.03, 0.1, 0.5, 1.0, 2.5, 7.0, 14.0, 14.6146], dtype=torch.float32)
    ts = torch.tensor([0.0, 0.5, 1.0, 17.25, 500.0, 998.5, 999.0], dtype=torch.float32)
    diff = {}
    for sched in ("linear", "scaled_linear", "squaredcos_cap_v2"):
        s = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule=sched)
        diff[sched] = f32list(s.alphas_cumprod)
    return {
        "alphas_cumprod": f32list(AC),
        "sigmas": f32list(std.sigmas),
        "probe_sigmas": f32list(probe),
        "sigma_to_t": f32list(std.sigma_to_t(probe)),
        "probe_t": f32list(ts),
        "t_to_sigma": f32list(std.t_to_sigma(ts)),
        "lcm_sigmas": f32list(lcm.sigmas),
        "lcm_sigma_to_t": f32list(lcm.sigma_to_t(probe)),
        "diffusers_alphas_cumprod": diff,
        "img2img_steps": [
            {"steps": s, "strength": d, "fix": f, "hires": h,
             "out": list(ref.setup_img2img_steps(s, d, steps=s if h else None, img2img_fix_steps=f))}
            for s in (1, 7, 20, 30) for d in (0.05, 0.3, 0.75, 1.0) for f in (False, True) for h in (False, True)
        ],
    }


def main():
    all_cases = [run_case(c) for c in cases()]
    data = {
        "k_diffusion": "0.1.1.post1",
        "pool": POOL,
        "cases": all_cases,
        "schedules": schedule_goldens(),
        "model": model_goldens(),
    }
    data["pools"] = {name: {k: ([f32list(a) for a in v] if isinstance(v, list) else f32list(v)) for k, v in p.items()}
                     for name, p in POOLS.items()}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    errs = [c["sampler"] + " " + c["webui_error"] for c in all_cases if c.get("webui_error")]
    print(f"{len(all_cases)} cases, {os.path.getsize(OUT) / 1e6:.2f} MB; WebUI errors: {errs}")


if __name__ == "__main__":
    main()
