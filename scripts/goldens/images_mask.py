"""Goldens for inpainting masks: OpenCV mask blur, crop regions, masking.fill, the WebUI's img2img
mask preparation, latent mask and paste-back.

Run with Pillow 9.5.0 (the WebUI's pin) and OpenCV (4.12.0.88 was used):
  pip install --no-deps --target /tmp/pil95 Pillow==9.5.0
  /work/main/.venv/bin/pip install --no-deps opencv-python-headless==4.12.0.88
  PYTHONPATH=/tmp/pil95 /work/main/.venv/bin/python scripts/goldens/images_mask.py
Writes tests/fixtures/images/mask/.

The functions below restate what AUTOMATIC1111/stable-diffusion-webui does in
modules/processing.py (StableDiffusionProcessingImg2Img.init, create_binary_mask, apply_overlay,
uncrop) and modules/masking.py (get_crop_region_v2, expand_crop_region, fill), v1.10.
"""
import os

import cv2
import numpy as np
from PIL import Image, ImageFilter, ImageOps

from images_common import fixture_dir, test_mask, test_picture, write_json
from images_resample import webui_resize_image

assert Image.__version__ == "9.5.0", "run with Pillow 9.5.0 (see the docstring)"
OUT = fixture_dir("mask")


def save(im, name):
    im.save(os.path.join(OUT, name))
    return name


def blur_mask(mask, bx, by):
    # processing.py: cv2.GaussianBlur with kernel 2*int(2.5*blur+0.5)+1, x then y
    if bx > 0:
        k = 2 * int(2.5 * bx + 0.5) + 1
        mask = Image.fromarray(cv2.GaussianBlur(np.array(mask), (k, 1), bx))
    if by > 0:
        k = 2 * int(2.5 * by + 0.5) + 1
        mask = Image.fromarray(cv2.GaussianBlur(np.array(mask), (1, k), by))
    return mask


def get_crop_region_v2(mask, pad=0):
    box = mask.getbbox()
    if box:
        x1, y1, x2, y2 = box
        return (max(x1 - pad, 0), max(y1 - pad, 0), min(x2 + pad, mask.size[0]), min(y2 + pad, mask.size[1])) if pad else box
    return None


def expand_crop_region(crop_region, pw, ph, iw, ih):
    x1, y1, x2, y2 = crop_region
    ratio_crop = (x2 - x1) / (y2 - y1)
    ratio_proc = pw / ph
    if ratio_crop > ratio_proc:
        diff = int((x2 - x1) / ratio_proc - (y2 - y1))
        y1 -= diff // 2
        y2 += diff - diff // 2
        if y2 >= ih:
            d = y2 - ih
            y2 -= d
            y1 -= d
        if y1 < 0:
            y2 -= y1
            y1 -= y1
        if y2 >= ih:
            y2 = ih
    else:
        diff = int((y2 - y1) * ratio_proc - (x2 - x1))
        x1 -= diff // 2
        x2 += diff - diff // 2
        if x2 >= iw:
            d = x2 - iw
            x2 -= d
            x1 -= d
        if x1 < 0:
            x2 -= x1
            x1 -= x1
        if x2 >= iw:
            x2 = iw
    return x1, y1, x2, y2


def fill(image, mask):
    image_mod = Image.new("RGBA", (image.width, image.height))
    image_masked = Image.new("RGBa", (image.width, image.height))
    image_masked.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(mask.convert("L")))
    image_masked = image_masked.convert("RGBa")
    for radius, repeats in [(256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1)]:
        blurred = image_masked.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
        for _ in range(repeats):
            image_mod.alpha_composite(blurred)
    return image_mod.convert("RGB")


def prepare(init_images, mask, resize_mode, width, height, bx, by, invert, fill_mode, full_res, padding):
    crop_region = None
    image_mask = mask.convert("L")
    if invert:
        image_mask = ImageOps.invert(image_mask)
    image_mask = blur_mask(image_mask, bx, by)
    paste_to = None
    if full_res:
        mask_for_overlay = image_mask
        m = image_mask.convert("L")
        crop_region = get_crop_region_v2(m, padding)
        if crop_region:
            crop_region = expand_crop_region(crop_region, width, height, m.width, m.height)
            x1, y1, x2, y2 = crop_region
            image_mask = webui_resize_image(2, m.crop(crop_region), width, height)
            paste_to = (x1, y1, x2 - x1, y2 - y1)
        else:
            return None
    else:
        image_mask = webui_resize_image(resize_mode, image_mask, width, height)
        np_mask = np.array(image_mask)
        np_mask = np.clip((np_mask.astype(np.float32)) * 2, 0, 255).astype(np.uint8)
        mask_for_overlay = Image.fromarray(np_mask)
    images, overlays = [], []
    for img in init_images:
        image = img
        if crop_region is None:
            image = webui_resize_image(resize_mode, image, width, height)
        image_masked = Image.new("RGBa", (image.width, image.height))
        image_masked.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(mask_for_overlay.convert("L")))
        overlays.append(image_masked.convert("RGBA"))
        if crop_region is not None:
            image = image.crop(crop_region)
            image = webui_resize_image(2, image, width, height)
        if fill_mode != 1:
            image = fill(image, image_mask)
        images.append(image)
    latmask = image_mask.convert("RGB").resize((width // 8, height // 8))
    latmask = np.around(np.moveaxis(np.array(latmask, dtype=np.float32), 2, 0)[0] / 255)
    return images, image_mask.convert("L"), mask_for_overlay.convert("L"), overlays, paste_to, latmask


def apply_overlay(image, paste_to, overlay):
    if paste_to is not None:
        x, y, w, h = paste_to
        base = Image.new("RGBA", (overlay.width, overlay.height))
        image = webui_resize_image(1, image, w, h)
        base.paste(image, (x, y))
        image = base
    image = image.convert("RGBA")
    image.alpha_composite(overlay)
    return image.convert("RGB")


def main():
    blur_cases = []
    masks = {"blob_40x30": test_mask(40, 30, 1, "blob"), "rect_33x17": test_mask(33, 17, 2, "rect"),
             "corner_9x5": test_mask(9, 5, 3, "corner"), "rect_1x12": test_mask(1, 12, 4, "rect").point(lambda v: 255 - v)}
    soft = test_picture(23, 19, 5, "L")
    masks["soft_23x19"] = soft
    for name, m in masks.items():
        save(m, f"mask_{name}.png")
        for bx, by in [(4, 4), (1, 0), (0, 7), (12, 3), (64, 64), (2, 5)]:
            out = blur_mask(m, bx, by)
            blur_cases.append({"mask": f"mask_{name}.png", "blur": [bx, by], "output": save(out, f"blur_{name}_{bx}_{by}.png")})
    region_cases = []
    rng = np.random.default_rng(7)
    for i in range(40):
        iw, ih = int(rng.integers(8, 120)), int(rng.integers(8, 120))
        m = np.zeros((ih, iw), np.uint8)
        x1, y1 = int(rng.integers(0, iw)), int(rng.integers(0, ih))
        x2, y2 = int(rng.integers(x1 + 1, iw + 1)), int(rng.integers(y1 + 1, ih + 1))
        m[y1:y2, x1:x2] = int(rng.integers(1, 256))
        pad = int(rng.choice([0, 0, 4, 32]))
        pw, ph = int(rng.choice([512, 768, 64, 40])), int(rng.choice([512, 768, 64, 24]))
        r = get_crop_region_v2(Image.fromarray(m), pad)
        e = expand_crop_region(r, pw, ph, iw, ih)
        region_cases.append({"size": [iw, ih], "rect": [x1, y1, x2, y2], "pad": pad, "processing": [pw, ph],
                             "region": list(r), "expanded": list(e)})
    fill_cases = []
    for i, (w, h, shape) in enumerate([(40, 30, "blob"), (33, 17, "rect"), (64, 48, "corner")]):
        img, m = test_picture(w, h, 20 + i), blur_mask(test_mask(w, h, 30 + i, shape), 4, 4)
        fill_cases.append({"image": save(img, f"fill_in_{i}.png"), "mask": save(m, f"fill_mask_{i}.png"),
                           "output": save(fill(img, m), f"fill_out_{i}.png")})
    prep_cases = []
    configs = [
        dict(resize_mode=0, width=32, height=32, bx=4, by=4, invert=False, fill_mode=0, full_res=True, padding=0),
        dict(resize_mode=0, width=40, height=24, bx=2, by=6, invert=True, fill_mode=1, full_res=True, padding=8),
        dict(resize_mode=1, width=32, height=24, bx=4, by=4, invert=False, fill_mode=0, full_res=False, padding=0),
        dict(resize_mode=2, width=24, height=32, bx=0, by=0, invert=False, fill_mode=1, full_res=False, padding=0),
        dict(resize_mode=0, width=48, height=40, bx=3, by=3, invert=False, fill_mode=2, full_res=False, padding=0),
    ]
    img = test_picture(56, 40, 40)
    msk = test_mask(56, 40, 41, "blob")
    gen_src = test_picture(64, 64, 42)
    save(img, "prep_image.png")
    save(msk, "prep_mask.png")
    for i, c in enumerate(configs):
        images, image_mask, mfo, overlays, paste_to, latmask = prepare([img], msk, **{k: v for k, v in c.items()})
        generated = gen_src.resize((c["width"], c["height"]))
        final = apply_overlay(generated, paste_to, overlays[0])
        prep_cases.append({"config": c, "image": save(images[0], f"prep_{i}_image.png"),
                           "image_mask": save(image_mask, f"prep_{i}_image_mask.png"),
                           "mask_for_overlay": save(mfo, f"prep_{i}_mask_for_overlay.png"),
                           "overlay": save(overlays[0], f"prep_{i}_overlay.png"),
                           "paste_to": list(paste_to) if paste_to else None,
                           "latent_mask": latmask.astype(int).tolist(),
                           "generated": save(generated, f"prep_{i}_generated.png"),
                           "final": save(final, f"prep_{i}_final.png")})
    write_json(os.path.join(OUT, "manifest.json"), {"pillow": Image.__version__, "opencv": cv2.__version__,
                                                    "blur": blur_cases, "regions": region_cases,
                                                    "fill": fill_cases, "prepare": prep_cases})
    print(len(blur_cases), "blur,", len(region_cases), "regions,", len(fill_cases), "fill,", len(prep_cases), "prepare")


if __name__ == "__main__":
    main()
