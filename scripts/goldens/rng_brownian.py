"""Goldens for the Brownian-tree noise of the SDE samplers (src/rng/brownian.rs, seed_sequence.rs,
pyround.rs).

Reference: k-diffusion's BrownianTreeNoiseSampler / BatchedBrownianTree (k_diffusion/sampling.py; the
two classes are loaded from the installed file by name, since importing k_diffusion pulls in scipy and
more) over torchsde 0.2.6's BrownianTree / BrownianInterval, on the CPU.
Normal sources: "CPU" is torchsde's own `_randn` (torch.Generator('cpu')), which is also what the
WebUI's replacement (`devices.randn_local`, see sd_samplers_common.replace_torchsde_browinan) gives with
the CPU source; "NV" is that WebUI replacement with the NV source (the NumPy Philox port), the same
Philox stream the GPU source draws.

Also written: numpy SeedSequence states (torchsde's per-node seeds) and Python round(x, 6) (torchsde's
tol=1e-6 quantisation of times).

Run: .venv/bin/python scripts/goldens/rng_brownian.py
  needs torch, numpy, and: pip install torchsde==0.2.6 trampoline==0.1.2 k-diffusion==0.1.1.post1 --no-deps
"""

import ast
import os
import random
import struct
import sys

os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchsde  # noqa: E402
import torchsde._brownian.brownian_interval as brownian_interval  # noqa: E402

import rng_philox_np  # noqa: E402
from rng_common import encode, f32, write  # noqa: E402

SIGMA_MIN = 0.0291675
SIGMA_MAX = 14.614642


def load_k_diffusion_noise_sampler():
    """BatchedBrownianTree and BrownianTreeNoiseSampler, taken verbatim from the installed k-diffusion."""
    import importlib.util

    spec = importlib.util.find_spec("k_diffusion")
    path = os.path.join(os.path.dirname(spec.origin), "sampling.py")
    tree = ast.parse(open(path).read())
    wanted = {"BatchedBrownianTree", "BrownianTreeNoiseSampler"}
    body = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name in wanted]
    namespace = {"torch": torch, "torchsde": torchsde}
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), namespace)
    return namespace["BrownianTreeNoiseSampler"]


BrownianTreeNoiseSampler = load_k_diffusion_noise_sampler()
TORCHSDE_RANDN = brownian_interval._randn


def webui_randn_nv(size, dtype, device, seed):
    """sd_samplers_common.replace_torchsde_browinan with randn_source == "NV"."""
    return torch.asarray(rng_philox_np.Generator(seed).randn(size), device=device).to(device=device, dtype=dtype)


def karras(n):
    """k_diffusion.sampling.get_sigmas_karras(n, SIGMA_MIN, SIGMA_MAX)."""
    rho = 7.0
    ramp = torch.linspace(0, 1, n)
    min_inv_rho = SIGMA_MIN ** (1 / rho)
    max_inv_rho = SIGMA_MAX ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def dpmpp_sde_queries(sigmas, r=0.5):
    """The (sigma, sigma_next) pairs sample_dpmpp_sde hands its noise sampler, in float32 as there."""
    sigma_fn = lambda t: t.neg().exp()  # noqa: E731
    t_fn = lambda sigma: sigma.log().neg()  # noqa: E731
    out = []
    for i in range(len(sigmas) - 1):
        if sigmas[i + 1] == 0:
            continue
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        s = t + h * r
        out.append((sigma_fn(t), sigma_fn(s)))
        out.append((sigma_fn(t), sigma_fn(t_next)))
    return out


def consecutive_queries(sigmas):
    """The pairs of the 2M SDE / 3M SDE samplers: (sigmas[i], sigmas[i + 1]) while sigmas[i + 1] > 0."""
    return [(sigmas[i], sigmas[i + 1]) for i in range(len(sigmas) - 1) if sigmas[i + 1] > 0]


def arbitrary_queries(rng):
    lo, hi = SIGMA_MIN, SIGMA_MAX
    pairs = []
    for _ in range(8):
        a, b = sorted(rng.uniform(lo, hi) for _ in range(2))
        pairs.append((b, a))
    pairs += [
        (rng.uniform(lo, hi), rng.uniform(lo, hi)),  # either order
        (0.5, 2.0),  # increasing sigma
        (hi, lo),  # the whole interval
        (20.0, 10.0),  # above sigma_max: clamped
        (0.03, 0.001),  # below sigma_min: clamped
        (1.0, 0.999999),  # one step of the 1e-6 grid apart
        # (1.0, 0.9999995) would round to one point: torchsde then recurses until RecursionError.
        (3.0000004, 3.0000016),
    ]
    return [(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)) for a, b in pairs]


def run_sampler(source, seeds, shape, sigma_min, sigma_max, queries, transform=None):
    brownian_interval._randn = TORCHSDE_RANDN if source == "CPU" else webui_randn_nv
    try:
        x = torch.zeros((len(seeds), *shape))
        kwargs = {} if transform is None else {"transform": transform}
        ns = BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=seeds, **kwargs)
        return [encode(ns(a, b).numpy()) for a, b in queries]
    finally:
        brownian_interval._randn = TORCHSDE_RANDN


def brownian_cases():
    rng = random.Random(5)
    cases = []
    transforms = {None: None, "neg_log": lambda s: s.log().neg()}
    k10, k30 = karras(10), karras(30)
    plans = [
        ("karras10_dpmpp_sde", k10, dpmpp_sde_queries(k10), [1234, 1235], (4, 4, 4), None),
        ("karras30_dpmpp_sde", k30, dpmpp_sde_queries(k30), [1234, 1235], (4, 4, 4), None),
        ("karras10_2m_sde", k10, consecutive_queries(k10), [7], (4, 4, 4), None),
        ("arbitrary", k10, arbitrary_queries(rng), [0, 4294967295], (4, 4, 4), None),
        ("bigger_latent", k10, dpmpp_sde_queries(k10)[:6], [99], (4, 16, 16), None),
        ("neg_log_transform", k10, dpmpp_sde_queries(k10)[:8], [31337], (4, 4, 4), "neg_log"),
        ("large_entropy", k10, dpmpp_sde_queries(k10)[:4], [2**40 + 5], (4, 4, 4), None),
    ]
    for name, sigmas, queries, seeds, shape, transform in plans:
        tf = transforms[transform] or (lambda v: v)
        positive = sigmas[sigmas > 0]
        sigma_min, sigma_max = positive.min(), sigmas.max()
        case = {
            "name": name,
            "seeds": seeds,
            "shape": list(shape),
            "sigma_min": f32(sigma_min),
            "sigma_max": f32(sigma_max),
            "transform": transform or "identity",
            "queries": [[f32(a), f32(b)] for a, b in queries],
            # BrownianTreeNoiseSampler divides by (t1 - t0).abs().sqrt(); torch's CPU sqrt (MKL VML) is not
            # always correctly rounded, unlike CUDA's sqrtf. The value torch used is kept to check the
            # tree's increments bit for bit.
            "denominators": [f32((tf(b) - tf(a)).abs().sqrt()) for a, b in queries],
            "sources": {},
        }
        for source in ("CPU", "NV"):
            case["sources"][source] = run_sampler(source, seeds, shape, sigma_min, sigma_max, queries,
                                                  transforms[transform])
        cases.append(case)
    return cases


def seed_sequence_cases():
    out = []
    for entropy in [0, 1, 1234, 4294967295, 2**32, 2**40 + 3, 2**70 + 11]:
        for spawn_key in [(), (0, 0), (1, 1), (5, 3), (2**33 + 1, 34), (2**100 + 7, 101)]:
            for pool_size in [4, 8, 24]:
                ss = np.random.SeedSequence(entropy=entropy, spawn_key=spawn_key, pool_size=pool_size)
                out.append({"entropy": str(entropy), "spawn_key": [str(k) for k in spawn_key],
                            "pool_size": pool_size, "state": [int(v) for v in ss.generate_state(5)]})
    return out


def round_cases():
    """Pairs [x, round(x, 6)]; x is written as a string (repr) so it reads back exactly."""
    rng = random.Random(11)
    xs = [0.0, 1e-7, 4.9999e-7, 5e-7, 5.0001e-7, 0.0078125, 0.0234375, 1.0000005, 2.5e-6, 3.5e-6,
          0.0291675, 14.614642, 2.0**33, 2.0**33 + 0.5, 2.0**32 + 0.25, 123456.7890125, 1e-300, 5e-324]
    for _ in range(300):
        exp = rng.uniform(-8, 4)
        xs.append(10**exp)
    for _ in range(200):
        xs.append(struct.unpack("f", struct.pack("f", rng.uniform(0.0, 20.0)))[0])
    for _ in range(100):
        k = rng.randrange(0, 10**8)
        xs.append(k / 1e6 + 5e-7)  # near ties
        xs.append(-(k / 2**20))
    return [[repr(x), repr(round(x, 6))] for x in xs]


def main():
    if torch.backends.cpu.get_cpu_capability() != "AVX2":
        raise SystemExit("run on an AVX2 machine with ATEN_CPU_CAPABILITY=avx2")
    write("brownian.json", {
        "source": f"k-diffusion BrownianTreeNoiseSampler + torchsde {torchsde.__version__}, torch {torch.__version__} CPU (AVX2)",
        "cases": brownian_cases(),
        "seed_sequence": seed_sequence_cases(),
        "round6": round_cases(),
    })


if __name__ == "__main__":
    main()
