"""Small PNG files built without dependencies (for img2img inputs, masks and png-info bodies)."""

from __future__ import annotations

import random
import struct
import zlib

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def make_png(w: int = 64, h: int = 64, seed: int = 1, *, gray: bool = False, parameters: str | None = None) -> bytes:
    """An 8-bit RGB (or grayscale) PNG of gradients plus noise; `parameters` adds the WebUI's
    infotext tEXt chunk."""
    rng = random.Random(seed)
    rows = bytearray()
    for y in range(h):
        rows.append(0)  # filter: none
        for x in range(w):
            if gray:
                rows.append(255 if (x * 2 >= w) else rng.randrange(64))
            else:
                rows += bytes(((x * 4 + rng.randrange(16)) & 255, (y * 4) & 255, ((x + y) * 2) & 255))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if gray else 2, 0, 0, 0)
    text = _chunk(b"tEXt", b"parameters\x00" + parameters.encode("latin-1", "replace")) if parameters else b""
    return PNG_MAGIC + _chunk(b"IHDR", ihdr) + text + _chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + _chunk(b"IEND", b"")
