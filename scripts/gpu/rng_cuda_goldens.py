"""CUDA goldens for the rng module's GPU source (src/rng/cuda.rs): run on a machine with an NVIDIA GPU.

Writes what torch.randn(shape, generator=torch.Generator('cuda').manual_seed(seed), device='cuda') gives
for the seeds and shapes of scripts/goldens/rng_randn.py, for larger tensors that exercise torch's launch
geometry (more elements than one pass of threads, several passes), for the WebUI's ImageRNG with the
GPU source (scripts/goldens/rng_webui.py), and, when torchsde and k-diffusion are importable, for
k-diffusion's BrownianTreeNoiseSampler with x on the GPU (torchsde then draws with CUDA generators).
The device's SM count and threads per SM are recorded: the Rust test imitates that GPU's launch.

Usage (repository root; needs torch with CUDA, numpy):
    python scripts/gpu/rng_cuda_goldens.py [OUTPUT]     default OUTPUT: tests/fixtures/rng/cuda_randn.json
Then commit the file; `cargo test --lib rng` compares against it when it exists
(rng::cuda::tests::cuda_goldens_when_present prints the differences it finds).
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "goldens"))

import torch  # noqa: E402

import rng_webui  # noqa: E402
from rng_common import FIXTURES, SEEDS, SHAPES, encode  # noqa: E402

SEQUENCE = [(1,), (3,), (15,), (16,), (17,), (5,), (1, 4, 8, 8), (2,), (7,)]
# One pass of an H100's threads holds 270,336 elements, an RTX 4090's 196,608: (4, 320, 320) needs a second
# output of curand_normal4 per thread on both, (4, 600, 600) several passes.
LAYOUT = [
    [(4, 64, 64), (4, 64, 64), (4, 64, 64)],
    [(4, 128, 128), (4, 128, 128)],
    [(4, 320, 320), (4, 64, 64)],
    [(4, 600, 600), (4, 64, 64)],
    [(16, 128, 128)],
]


def device_info():
    p = torch.cuda.get_device_properties(0)
    threads = getattr(p, "max_threads_per_multi_processor", None)
    return {
        "name": p.name,
        "capability": f"{p.major}.{p.minor}",
        "multiprocessors": p.multi_processor_count,
        "max_threads_per_multiprocessor": threads,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }


def randn_cases():
    cases = []
    plan = [(seed, [shape]) for seed in SEEDS for shape in SHAPES]
    plan += [(seed, SEQUENCE) for seed in SEEDS]
    plan += [(2**40 + 7, [(1, 4, 8, 8), (3,)]), (2**63 + 5, [(1, 4, 8, 8), (3,)])]
    plan += [(1234, shapes) for shapes in LAYOUT]
    for seed, shapes in plan:
        g = torch.Generator("cuda").manual_seed(seed)
        draws = [encode(torch.randn(s, generator=g, device="cuda").cpu().numpy()) for s in shapes]
        cases.append({"seed": seed, "draws": draws})
    return cases


def image_cases():
    opts = rng_webui.Settings(randn_source="GPU", device="cuda")
    out = []
    for case in rng_webui.IMAGE_CASES:
        meta, outs = rng_webui.run_case(opts, case)
        meta["next"] = [encode(o) for o in outs]
        out.append(meta)
    return out


def brownian_cases():
    try:
        import rng_brownian
    except Exception as e:  # torchsde or k-diffusion missing
        print(f"skipping Brownian-tree goldens: {e!r}")
        return None
    bi = rng_brownian.brownian_interval

    def webui_randn_gpu(size, dtype, device, seed):
        # sd_samplers_common.replace_torchsde_browinan with the GPU source: randn_local on the GPU.
        g = torch.Generator(device).manual_seed(int(seed))
        return torch.randn(size, device=device, generator=g).to(device=device, dtype=dtype)

    k10 = rng_brownian.karras(10).cuda()
    queries = rng_brownian.dpmpp_sde_queries(k10)
    positive = k10[k10 > 0]
    seeds, shape = [1234, 1235], (4, 8, 8)
    bi._randn = webui_randn_gpu
    try:
        x = torch.zeros((len(seeds), *shape), device="cuda")
        ns = rng_brownian.BrownianTreeNoiseSampler(x, positive.min(), k10.max(), seed=seeds)
        outs = [encode(ns(a, b).cpu().numpy()) for a, b in queries]
    finally:
        bi._randn = rng_brownian.TORCHSDE_RANDN
    f32 = rng_brownian.f32
    return [{
        "name": "karras10_dpmpp_sde_gpu",
        "seeds": seeds,
        "shape": list(shape),
        "sigma_min": f32(positive.min()),
        "sigma_max": f32(k10.max()),
        "queries": [[f32(a), f32(b)] for a, b in queries],
        "outputs": outs,
    }]


def main():
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU")
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(FIXTURES, "cuda_randn.json")
    result = {
        "device": device_info(),
        "cases": randn_cases(),
        "image_rng": image_cases(),
        "brownian": brownian_cases(),
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out_path} ({os.path.getsize(out_path)} bytes) on {result['device']}")


if __name__ == "__main__":
    main()
