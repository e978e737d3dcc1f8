"""Goldens for Pillow resampling and the WebUI's resize_image (modes 0-2), plus decode checks.

Run with Pillow 9.5.0, the version the WebUI pins (requirements_versions.txt); newer Pillow
(>= 10.x) sometimes runs the vertical pass first and differs by a few levels:
  pip install --no-deps --target /tmp/pil95 Pillow==9.5.0
  PYTHONPATH=/tmp/pil95 /work/main/.venv/bin/python scripts/goldens/images_resample.py
Writes tests/fixtures/images/resample/{manifest.json, *.png, *.jpg, *.webp}.

`webui_resize_image` restates, for the case without an img2img upscaler (the default), what
AUTOMATIC1111/stable-diffusion-webui modules/images.py `resize_image` does: mode 0 resizes with
LANCZOS; mode 1 scales to cover and pastes centred on a black RGB canvas; other modes scale to fit,
paste centred and fill the bands from zero-height / zero-width `box` resizes of the edge.
"""
import io
import os

from PIL import Image

from images_common import fixture_dir, test_picture, test_mask, write_json

LANCZOS = Image.Resampling.LANCZOS
assert Image.__version__ == "9.5.0", "run with Pillow 9.5.0 (see the docstring)"
OUT = fixture_dir("resample")


def webui_resize_image(resize_mode, im, width, height):
    def resize(im, w, h):
        return im.resize((w, h), resample=LANCZOS)

    if resize_mode == 0:
        return resize(im, width, height)
    ratio = width / height
    src_ratio = im.width / im.height
    if resize_mode == 1:
        src_w = width if ratio > src_ratio else im.width * height // im.height
        src_h = height if ratio <= src_ratio else im.height * width // im.width
        resized = resize(im, src_w, src_h)
        res = Image.new("RGB", (width, height))
        res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
        return res
    src_w = width if ratio < src_ratio else im.width * height // im.height
    src_h = height if ratio >= src_ratio else im.height * width // im.width
    resized = resize(im, src_w, src_h)
    res = Image.new("RGB", (width, height))
    res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
    if ratio < src_ratio:
        fill_height = height // 2 - src_h // 2
        if fill_height > 0:
            top = resized.resize((width, fill_height), box=(0, 0, width, 0))
            res.paste(top, box=(0, 0))
            bottom = resized.resize((width, fill_height), box=(0, resized.height, width, resized.height))
            res.paste(bottom, box=(0, fill_height + src_h))
    elif ratio > src_ratio:
        fill_width = width // 2 - src_w // 2
        if fill_width > 0:
            left = resized.resize((fill_width, height), box=(0, 0, 0, height))
            res.paste(left, box=(0, 0))
            right = resized.resize((fill_width, height), box=(resized.width, 0, resized.width, height))
            res.paste(right, box=(fill_width + src_w, 0))
    return res


def save(im, name):
    im.save(os.path.join(OUT, name))
    return name


def main():
    cases = []
    inputs = {
        "rgb_37x23": test_picture(37, 23, 1),
        "rgb_64x48": test_picture(64, 48, 2),
        "rgb_50x90": test_picture(50, 90, 3),
        "l_41x29": test_picture(41, 29, 4, "L"),
        "mask_40x30": test_mask(40, 30, 5, "blob"),
    }
    for name, im in inputs.items():
        save(im, f"in_{name}.png")
    filters = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC, "lanczos": LANCZOS}
    n = 0
    for name in ["rgb_37x23", "l_41x29"]:
        im = inputs[name]
        for fname, f in filters.items():
            for size, box in [((16, 11), None), ((80, 61), None), ((37, 5), None), ((9, 40), None),
                              ((20, 20), (3.0, 2.5, 30.0, 19.0)), ((12, 7), (0, 0, 12, 0)), ((5, 9), (im.width, 0, im.width, im.height))]:
                out = im.resize(size, f, box=box)
                n += 1
                cases.append({"op": "resize", "input": f"in_{name}.png", "filter": fname, "size": list(size),
                              "box": list(box) if box else None, "output": save(out, f"out_{n:03}.png")})
    for name in ["rgb_37x23", "rgb_64x48", "rgb_50x90", "mask_40x30"]:
        im = inputs[name]
        for mode in [0, 1, 2]:
            for size in [(32, 32), (48, 24), (24, 40), (37, 23), (64, 65)]:
                out = webui_resize_image(mode, im, *size)
                if im.mode == "L":
                    out = out.convert("L")
                n += 1
                cases.append({"op": "resize_image", "input": f"in_{name}.png", "mode": mode, "size": list(size),
                              "output": save(out, f"out_{n:03}.png")})
    # The WebUI's "Lanczos" upscaler (modules/upscaler.py Upscaler.upscale + UpscalerLanczos.do_upscale)
    # as images.resize_image(0, im, w, h, upscaler_name="Lanczos") uses it for hires fix.
    def webui_lanczos_upscale(img, w, h):
        scale = max(w / img.width, h / img.height)
        if scale > 1.0:
            dest_w, dest_h = int((img.width * scale) // 8 * 8), int((img.height * scale) // 8 * 8)
            for i in range(3):
                if img.width >= dest_w and img.height >= dest_h and (i > 0 or scale != 1):
                    break
                shape = (img.width, img.height)
                img = img.resize((int(img.width * scale), int(img.height * scale)), resample=LANCZOS)
                if shape == (img.width, img.height):
                    break
            if img.width != dest_w or img.height != dest_h:
                img = img.resize((int(dest_w), int(dest_h)), resample=LANCZOS)
        if img.width != w or img.height != h:
            img = img.resize((w, h), resample=LANCZOS)
        return img

    for name, size in [("rgb_37x23", (74, 46)), ("rgb_37x23", (100, 50)), ("rgb_50x90", (75, 135)), ("rgb_64x48", (32, 24))]:
        n += 1
        cases.append({"op": "lanczos_upscale", "input": f"in_{name}.png", "size": list(size),
                      "output": save(webui_lanczos_upscale(inputs[name], *size), f"out_{n:03}.png")})
    # Decoding: JPEG (libjpeg-turbo via Pillow) and WebP as Pillow decodes them, EXIF orientation.
    src = test_picture(48, 32, 9)
    src.save(os.path.join(OUT, "dec_q90.jpg"), quality=90)
    save(Image.open(os.path.join(OUT, "dec_q90.jpg")).convert("RGB"), "dec_q90_pil.png")
    src.save(os.path.join(OUT, "dec_lossless.webp"), lossless=True)
    save(Image.open(os.path.join(OUT, "dec_lossless.webp")).convert("RGB"), "dec_lossless_pil.png")
    src.save(os.path.join(OUT, "dec_lossy.webp"), quality=80)
    save(Image.open(os.path.join(OUT, "dec_lossy.webp")).convert("RGB"), "dec_lossy_pil.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    src.save(os.path.join(OUT, "dec_orient6.jpg"), quality=95, exif=exif.tobytes())
    from PIL import ImageOps
    save(ImageOps.exif_transpose(Image.open(os.path.join(OUT, "dec_orient6.jpg"))).convert("RGB"), "dec_orient6_pil.png")
    rgba = test_picture(20, 10, 11).convert("RGBA")
    a = Image.linear_gradient("L").resize((20, 10))
    rgba.putalpha(a)
    save(rgba, "dec_rgba.png")
    flat = Image.new("RGBA", rgba.size, "#ffffff")
    flat.paste(rgba, mask=rgba)
    save(flat.convert("RGB"), "dec_rgba_flattened_pil.png")
    write_json(os.path.join(OUT, "manifest.json"), {"pillow": Image.__version__, "cases": cases})
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
