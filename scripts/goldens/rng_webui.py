"""A transcription of the WebUI's noise code (AUTOMATIC1111/stable-diffusion-webui, modules/rng.py:
randn, randn_local, randn_without_seed, manual_seed, create_generator, slerp, ImageRNG), with the
module globals it reads (shared.opts.randn_source, shared.opts.eta_noise_seed_delta, devices.device)
turned into a `Settings` object. The control flow and tensor operations are kept as in rng.py so the
goldens show what the WebUI computes, quirks included.

Used by rng_image.py (CPU and NV sources on this machine) and scripts/gpu/rng_cuda_goldens.py (GPU).
"""

import torch

import rng_philox_np as rng_philox


class Settings:
    def __init__(self, randn_source="GPU", eta_noise_seed_delta=0, device="cuda"):
        self.randn_source = randn_source
        self.eta_noise_seed_delta = eta_noise_seed_delta
        self.device = torch.device(device)
        self.nv_rng = None


def randn(opts, seed, shape, generator=None):
    manual_seed(opts, seed)
    if opts.randn_source == "NV":
        return torch.asarray((generator or opts.nv_rng).randn(shape), device=opts.device)
    if opts.randn_source == "CPU" or opts.device.type == "mps":
        return torch.randn(shape, device="cpu", generator=generator).to(opts.device)
    return torch.randn(shape, device=opts.device, generator=generator)


def randn_local(opts, seed, shape):
    if opts.randn_source == "NV":
        rng = rng_philox.Generator(seed)
        return torch.asarray(rng.randn(shape), device=opts.device)
    local_device = "cpu" if opts.randn_source == "CPU" or opts.device.type == "mps" else opts.device
    local_generator = torch.Generator(local_device).manual_seed(int(seed))
    return torch.randn(shape, device=local_device, generator=local_generator).to(opts.device)


def randn_without_seed(opts, shape, generator=None):
    if opts.randn_source == "NV":
        return torch.asarray((generator or opts.nv_rng).randn(shape), device=opts.device)
    if opts.randn_source == "CPU" or opts.device.type == "mps":
        return torch.randn(shape, device="cpu", generator=generator).to(opts.device)
    return torch.randn(shape, device=opts.device, generator=generator)


def manual_seed(opts, seed):
    if opts.randn_source == "NV":
        opts.nv_rng = rng_philox.Generator(seed)
        return
    torch.manual_seed(seed)


def create_generator(opts, seed):
    if opts.randn_source == "NV":
        return rng_philox.Generator(seed)
    device = "cpu" if opts.randn_source == "CPU" or opts.device.type == "mps" else opts.device
    return torch.Generator(device).manual_seed(int(seed))


def slerp(val, low, high):
    low_norm = low / torch.norm(low, dim=1, keepdim=True)
    high_norm = high / torch.norm(high, dim=1, keepdim=True)
    dot = (low_norm * high_norm).sum(1)

    if dot.mean() > 0.9995:
        return low * val + high * (1 - val)

    omega = torch.acos(dot)
    so = torch.sin(omega)
    res = (torch.sin((1.0 - val) * omega) / so).unsqueeze(1) * low + (torch.sin(val * omega) / so).unsqueeze(1) * high
    return res


class ImageRNG:
    def __init__(self, opts, shape, seeds, subseeds=None, subseed_strength=0.0, seed_resize_from_h=0, seed_resize_from_w=0):
        self.opts = opts
        self.shape = tuple(shape)
        self.seeds = seeds
        self.subseeds = subseeds
        self.subseed_strength = subseed_strength
        self.seed_resize_from_h = seed_resize_from_h
        self.seed_resize_from_w = seed_resize_from_w
        self.generators = [create_generator(opts, seed) for seed in seeds]
        self.is_first = True

    def first(self):
        opts = self.opts
        noise_shape = self.shape if self.seed_resize_from_h <= 0 or self.seed_resize_from_w <= 0 else (self.shape[0], self.seed_resize_from_h // 8, self.seed_resize_from_w // 8)

        xs = []
        for i, (seed, generator) in enumerate(zip(self.seeds, self.generators)):
            subnoise = None
            if self.subseeds is not None and self.subseed_strength != 0:
                subseed = 0 if i >= len(self.subseeds) else self.subseeds[i]
                subnoise = randn(opts, subseed, noise_shape)

            if noise_shape != self.shape:
                noise = randn(opts, seed, noise_shape)
            else:
                noise = randn(opts, seed, self.shape, generator=generator)

            if subnoise is not None:
                noise = slerp(self.subseed_strength, noise, subnoise)

            if noise_shape != self.shape:
                x = randn(opts, seed, self.shape, generator=generator)
                dx = (self.shape[2] - noise_shape[2]) // 2
                dy = (self.shape[1] - noise_shape[1]) // 2
                w = noise_shape[2] if dx >= 0 else noise_shape[2] + 2 * dx
                h = noise_shape[1] if dy >= 0 else noise_shape[1] + 2 * dy
                tx = 0 if dx < 0 else dx
                ty = 0 if dy < 0 else dy
                dx = max(-dx, 0)
                dy = max(-dy, 0)

                x[:, ty:ty + h, tx:tx + w] = noise[:, dy:dy + h, dx:dx + w]
                noise = x

            xs.append(noise)

        eta_noise_seed_delta = opts.eta_noise_seed_delta or 0
        if eta_noise_seed_delta:
            self.generators = [create_generator(opts, seed + eta_noise_seed_delta) for seed in self.seeds]

        return torch.stack(xs).to(opts.device)

    def next(self):
        if self.is_first:
            self.is_first = False
            return self.first()

        xs = []
        for generator in self.generators:
            x = randn_without_seed(self.opts, self.shape, generator=generator)
            xs.append(x)

        return torch.stack(xs).to(self.opts.device)


def all_seeds(seed, subseed, subseed_strength, count):
    """processing.py: the batch's seeds and subseeds (subseed_strength != 0 keeps one seed for all)."""
    seeds = [int(seed) + (x if subseed_strength == 0 else 0) for x in range(count)]
    subseeds = [int(subseed) + x for x in range(count)]
    return seeds, subseeds


# Configurations the goldens cover: (name, shape, seed, subseed, subseed_strength, resize_h, resize_w,
# eta_noise_seed_delta, batch, number of next() calls).
IMAGE_CASES = [
    ("plain", (4, 8, 8), 1234, -1, 0.0, -1, -1, 0, 2, 3),
    ("plain_512", (4, 64, 64), 0, -1, 0.0, -1, -1, 0, 1, 2),
    ("ensd", (4, 8, 8), 1234, -1, 0.0, -1, -1, 31337, 2, 3),
    ("subseed_03", (4, 8, 8), 1234, 99, 0.3, -1, -1, 0, 2, 2),
    ("subseed_1", (4, 8, 8), 7, 8, 1.0, -1, -1, 0, 1, 1),
    ("subseed_same_seed", (4, 8, 8), 5, 5, 0.5, -1, -1, 0, 1, 1),
    ("subseed_ensd", (4, 8, 8), 1234, 4321, 0.7, -1, -1, 31337, 2, 2),
    ("resize_smaller", (4, 8, 8), 42, -1, 0.0, 48, 40, 0, 2, 2),
    ("resize_larger", (4, 8, 8), 42, -1, 0.0, 96, 88, 0, 1, 2),
    ("resize_odd", (4, 8, 8), 42, -1, 0.0, 72, 56, 0, 1, 1),
    ("resize_mixed_subseed", (4, 8, 8), 42, 43, 0.4, 40, 96, 0, 1, 2),
    ("resize_same_size", (4, 8, 8), 42, -1, 0.0, 64, 64, 0, 1, 2),
    ("resize_one_side_only", (4, 8, 8), 42, -1, 0.0, 96, -1, 0, 1, 1),
    ("resize_ensd", (4, 8, 8), 42, -1, 0.0, 48, 48, 1, 1, 2),
    ("big_seed", (4, 8, 8), 4294967295, -1, 0.0, -1, -1, 0, 2, 2),
    ("small_shape", (1, 2, 3), 3, 4, 0.25, -1, -1, 0, 2, 3),
]


def run_case(opts, case):
    name, shape, seed, subseed, strength, rh, rw, ensd, batch, calls = case
    seeds, subseeds = all_seeds(seed, subseed, strength, batch)
    opts.eta_noise_seed_delta = ensd
    rng = ImageRNG(opts, shape, seeds, subseeds=subseeds, subseed_strength=strength, seed_resize_from_h=rh, seed_resize_from_w=rw)
    outs = [rng.next().cpu().numpy() for _ in range(calls)]
    return {
        "name": name,
        "shape": list(shape),
        "seeds": seeds,
        "subseeds": subseeds,
        "subseed_strength": strength,
        "seed_resize_from_h": rh,
        "seed_resize_from_w": rw,
        "eta_noise_seed_delta": ensd,
    }, outs
