"""Goldens for PNG/JPEG/WebP metadata reading (the png-info route) and PNG text writing.

Run with Pillow 9.5.0 and piexif 1.1.3 (the WebUI's versions):
  pip install --no-deps --target /tmp/pil95 Pillow==9.5.0
  /work/main/.venv/bin/pip install piexif==1.1.3
  PYTHONPATH=/tmp/pil95 /work/main/.venv/bin/python scripts/goldens/images_metadata.py
Writes tests/fixtures/images/metadata/.

`read_info_from_image` restates what AUTOMATIC1111/stable-diffusion-webui modules/images.py
read_info_from_image does (v1.10): "parameters" popped from image.info, an EXIF UserComment
(piexif) overriding it, a GIF/JPEG comment otherwise, NovelAI conversion; `items` here keeps only
the text values (sdgate returns the text chunks).
"""
import json
import os
import zlib

import piexif
import piexif.helper
from PIL import Image, PngImagePlugin

from images_common import fixture_dir, test_picture, write_json

assert Image.__version__ == "9.5.0", "run with Pillow 9.5.0 (see the docstring)"
OUT = fixture_dir("metadata")
SAMPLERS = {"k_euler_ancestral": "Euler a", "k_euler": "Euler", "k_dpmpp_2m": "DPM++ 2M"}


def read_info_from_image(image):
    items = (image.info or {}).copy()
    geninfo = items.pop("parameters", None)
    if "exif" in items:
        exif_data = items.pop("exif")
        try:
            exif = piexif.load(exif_data)
        except OSError:
            exif = None
        exif_comment = (exif or {}).get("Exif", {}).get(piexif.ExifIFD.UserComment, b"")
        try:
            exif_comment = piexif.helper.UserComment.load(exif_comment)
        except ValueError:
            exif_comment = exif_comment.decode("utf8", errors="ignore")
        if exif_comment:
            geninfo = exif_comment
    elif "comment" in items:
        geninfo = items["comment"].decode("utf8", errors="ignore") if isinstance(items["comment"], bytes) else items["comment"]
    if items.get("Software", None) == "NovelAI":
        json_info = json.loads(items["Comment"])
        sampler = SAMPLERS.get(json_info["sampler"], "Euler a")
        geninfo = f"""{items["Description"]}
Negative prompt: {json_info["uc"]}
Steps: {json_info["steps"]}, Sampler: {sampler}, CFG scale: {json_info["scale"]}, Seed: {json_info["seed"]}, Size: {image.width}x{image.height}, Clip skip: 2, ENSD: 31337"""
    return geninfo, [[k, v] for k, v in items.items() if isinstance(k, str) and isinstance(v, str)]


def exif_with_comment(text, encoding="unicode"):
    return piexif.dump({"Exif": {piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(text, encoding=encoding)}})


def main():
    img = test_picture(24, 16, 50)
    cases = []
    params = 'a "cat", 猫 🐱\nNegative prompt: bad\nSteps: 20, Sampler: Euler a, CFG scale: 7.0, Seed: 1, Size: 24x16'

    def add(name, **kw):
        path = os.path.join(OUT, name)
        geninfo, items = read_info_from_image(Image.open(path))
        cases.append({"file": name, "infotext": geninfo, "items": items, **kw})

    # PNG written the way the WebUI writes it (PngInfo.add_text: tEXt, or iTXt when not Latin-1).
    for name, texts in [("png_latin1.png", [("parameters", "a cat\nSteps: 20, Sampler: Euler, Seed: 5"), ("extra", "é")]),
                        ("png_unicode.png", [("parameters", params), ("Comment", "x")])]:
        info = PngImagePlugin.PngInfo()
        for k, v in texts:
            info.add_text(k, v)
        img.save(os.path.join(OUT, name), pnginfo=info)
        add(name, written_texts=texts)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "zipped, " * 20, zip=True)
    info.add_itxt("Title", "zipped itxt ✓", zip=True)
    info.add_text("Software", "x")
    img.save(os.path.join(OUT, "png_compressed.png"), pnginfo=info)
    add("png_compressed.png")
    img.save(os.path.join(OUT, "png_plain.png"))
    add("png_plain.png")
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "from text")
    img.save(os.path.join(OUT, "png_exif.png"), pnginfo=info, exif=exif_with_comment("from exif, Steps: 3"))
    add("png_exif.png")
    for name, enc in [("jpeg_unicode.jpg", "unicode"), ("jpeg_ascii.jpg", "ascii")]:
        img.save(os.path.join(OUT, name), quality=90)
        text = params if enc == "unicode" else "ascii only\nSteps: 2, Sampler: Euler, Seed: 9"
        piexif.insert(exif_with_comment(text, enc), os.path.join(OUT, name))
        add(name)
    img.save(os.path.join(OUT, "jpeg_comment.jpg"), quality=90, comment=b"a comment \xc3\xa9 \xff")
    add("jpeg_comment.jpg")
    img.save(os.path.join(OUT, "webp_exif.webp"), quality=80, exif=exif_with_comment(params))
    add("webp_exif.webp")
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "NovelAI")
    info.add_text("Description", "novel prompt")
    info.add_text("Comment", json.dumps({"uc": "bad hands", "steps": 28, "scale": 11.0, "seed": 42, "sampler": "k_euler_ancestral"}))
    img.save(os.path.join(OUT, "png_novelai.png"), pnginfo=info)
    add("png_novelai.png")
    write_json(os.path.join(OUT, "manifest.json"), {"pillow": Image.__version__, "cases": cases})
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
