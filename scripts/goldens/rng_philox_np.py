"""NumPy reproduction of the WebUI's "NV" random source (AUTOMATIC1111/stable-diffusion-webui,
modules/rng_philox.py): Philox4x32-10 plus the first Box-Muller output, imitating torch.randn on CUDA.

Written from a reading of that module; the arithmetic is kept identical on purpose, including NumPy's
type promotion: uint32 * float32 -> float64, so Box-Muller runs in float64 and is rounded to float32 at
the end (torch on CUDA runs it in float32, hence the small GPU-vs-NV differences).

Per call `randn(shape)` with n elements: element i uses counter (offset, 0, i, 0) and key (seed low,
seed high), and `offset` grows by one per call.
"""

import numpy as np

PHILOX_M = [0xD2511F53, 0xCD9E8D57]
PHILOX_W = [0x9E3779B9, 0xBB67AE85]

TWO_POW32_INV = np.array([2.3283064e-10], dtype=np.float32)
TWO_POW32_INV_2PI = np.array([2.3283064e-10 * 6.2831855], dtype=np.float32)


def _uint32(x):
    """(N,) uint64 -> (2, N) uint32: row 0 low halves, row 1 high halves."""
    return x.view(np.uint32).reshape(-1, 2).transpose(1, 0)


def _philox4_round(counter, key):
    v1 = _uint32(counter[0].astype(np.uint64) * PHILOX_M[0])
    v2 = _uint32(counter[2].astype(np.uint64) * PHILOX_M[1])
    counter[0] = v2[1] ^ counter[1] ^ key[0]
    counter[1] = v2[0]
    counter[2] = v1[1] ^ counter[3] ^ key[1]
    counter[3] = v1[0]


def philox4_32(counter, key, rounds=10):
    for _ in range(rounds - 1):
        _philox4_round(counter, key)
        key[0] = key[0] + PHILOX_W[0]
        key[1] = key[1] + PHILOX_W[1]
    _philox4_round(counter, key)
    return counter


def box_muller(x, y):
    u = x * TWO_POW32_INV + TWO_POW32_INV / 2
    v = y * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2
    s = np.sqrt(-2.0 * np.log(u))
    r1 = s * np.sin(v)
    return r1.astype(np.float32)


class Generator:
    """Same outputs as the WebUI's rng_philox.Generator."""

    def __init__(self, seed):
        self.seed = seed
        self.offset = 0

    def randn(self, shape):
        n = 1
        for x in shape:
            n *= x
        counter = np.zeros((4, n), dtype=np.uint32)
        counter[0] = self.offset
        counter[2] = np.arange(n, dtype=np.uint32)
        self.offset += 1
        key = np.empty(n, dtype=np.uint64)
        key.fill(self.seed)
        key = _uint32(key)
        g = philox4_32(counter, key)
        return box_muller(g[0], g[1]).reshape(shape)


if __name__ == "__main__":
    # The module docstring of rng_philox.py gives this expected output for seed 0, shape (3, 4).
    print(Generator(0).randn((3, 4)))
