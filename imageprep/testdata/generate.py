#!/usr/bin/python3
"""Regenerates imageprep's test images and the Pillow answers they are
checked against. The files are committed; run this only to change them.

Needs Debian's python3-pil (Pillow 9.4.0 on libjpeg-turbo 2.1.5, libwebp
1.2.4), python3-numpy and libjpeg-turbo-progs (cjpeg, for the JPEG chroma
layouts Pillow cannot write):

    apt-get install python3-pil python3-numpy libjpeg-turbo-progs
    cd imageprep/testdata && /usr/bin/python3 generate.py

images/     encoded inputs in every supported format; also the fuzz seeds
pillow/     what Pillow makes of them:
  <image>.png            ImageOps.exif_transpose(Image.open(f)).convert("RGB")
  resize_<filter>_<w>x<h>.png   resize_src.png resized with that filter
"""
import io
import os
import subprocess

import numpy as np
from PIL import Image, ImageOps

rng = np.random.default_rng(20240607)
os.makedirs("images", exist_ok=True)
os.makedirs("pillow", exist_ok=True)


def photo(w, h, alpha=False):
    """A small photo-like picture: smooth gradients, hard-edged discs and
    sensor-like noise, so that every resize tap and chroma edge matters."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        img[..., c] = 128 + 90 * np.sin(x / w * rng.uniform(2, 7) + rng.uniform(0, 6)) * np.cos(y / h * rng.uniform(2, 7))
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.15, 0.4) * min(w, h)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 10, img.shape)
    rgb = np.clip(img, 0, 255).astype(np.uint8)
    if not alpha:
        return Image.fromarray(rgb)
    a = np.clip(x / w * 300 - 20, 0, 255).astype(np.uint8)  # fully transparent on the left
    return Image.fromarray(np.dstack([rgb, a]), "RGBA")


def exif(orientation):
    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


def cjpeg(im, name, *args):
    ppm = io.BytesIO()
    im.save(ppm, "PPM")
    out = subprocess.run(["cjpeg", *args], input=ppm.getvalue(), capture_output=True, check=True).stdout
    with open(f"images/{name}", "wb") as f:
        f.write(out)


base = photo(37, 23)
images = {}

# JPEG: every chroma layout libjpeg-turbo upsamples differently, odd sizes
# (partial chroma samples at the edges), planes two samples wide (no fancy
# upsampling), greyscale, CMYK, progressive, and EXIF orientations.
base.save("images/j420.jpg", quality=85, subsampling=2)
base.save("images/j422.jpg", quality=85, subsampling=1)
base.save("images/j444.jpg", quality=85, subsampling=0)
cjpeg(base, "j440.jpg", "-quality", "85", "-sample", "1x2")
cjpeg(base, "j411.jpg", "-quality", "85", "-sample", "4x1")
photo(4, 3).save("images/j420_narrow.jpg", quality=90, subsampling=2)
photo(3, 5).save("images/j422_narrow.jpg", quality=90, subsampling=1)
base.convert("L").save("images/jgray.jpg", quality=85)
base.convert("CMYK").save("images/jcmyk.jpg", quality=85)
photo(64, 40).save("images/jprogressive.jpg", quality=80, progressive=True)
for o in range(1, 9):
    base.save(f"images/jexif{o}.jpg", quality=90, subsampling=0, exif=exif(o))

# PNG: alpha with colour under transparent pixels, grey+alpha, palette with
# a transparent entry, EXIF orientation in an eXIf chunk.
photo(37, 23, alpha=True).save("images/rgba.png")
photo(37, 23, alpha=True).convert("LA").save("images/la.png")
pal = base.quantize(16)
pal.info["transparency"] = 3
pal.save("images/palette_trns.png", transparency=3)
base.save("images/exif8.png", exif=exif(8))

# GIF: two frames, the first is what counts.
g1 = base.quantize(32)
g2 = photo(37, 23).quantize(32)
g1.save("images/anim.gif", save_all=True, append_images=[g2], duration=100, loop=0)

# WebP: lossy (limited-range 4:2:0), lossy with alpha, lossless, EXIF.
base.save("images/lossy.webp", quality=80)
photo(38, 24, alpha=True).save("images/lossy_alpha.webp", quality=80)
base.save("images/lossless.webp", lossless=True)
photo(38, 24).save("images/exif3.webp", quality=90, exif=exif(3))

# BMP and TIFF.
base.save("images/rgb.bmp")
base.quantize(64).save("images/palette.bmp")
base.save("images/rgb.tif", compression="tiff_lzw")
base.save("images/exif6.tif", compression="tiff_adobe_deflate", exif=exif(6))

for name in sorted(os.listdir("images")):
    if name.startswith("jbig"):
        continue  # larger pictures, answered in pillow/sampled.json below
    im = Image.open(f"images/{name}")
    if name.endswith(".tif"):
        # Pillow 9.4's libtiff loader already applies a TIFF's orientation,
        # and exif_transpose would then apply it a second time.
        im.load()
    else:
        im = ImageOps.exif_transpose(im)
    im.convert("RGB").save(f"pillow/{name}.png")

# Resize answers: up, down, one axis, and every filter edgeinfer supports.
src = photo(41, 29)
src.save("pillow/resize_src.png")
filters = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS,
           "box": Image.BOX, "hamming": Image.HAMMING}
for fname, f in filters.items():
    for w, h in [(97, 69), (13, 9), (41, 64), (20, 29), (7, 100)]:
        src.resize((w, h), resample=f).save(f"pillow/resize_{fname}_{w}x{h}.png")


# --- libjpeg-turbo decoder fixtures (added with the cgo decoder) ---
# Generated after everything above so the random pictures above stay the same.
import base64
import hashlib
import json

# Restart markers (per MCU row and every few blocks, baseline and
# progressive), and a CMYK file without its Adobe marker (Pillow inverts
# CMYK all the same).
cjpeg(base, "jrestart_rows.jpg", "-quality", "85", "-restart", "1")
cjpeg(base, "jrestart_blocks.jpg", "-quality", "85", "-progressive", "-restart", "3B", "-sample", "2x1")


def strip_app14(data):
    out, i = bytearray(data[:2]), 2
    while data[i] == 0xFF and data[i + 1] != 0xDA:
        n = 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if data[i + 1] != 0xEE:
            out += data[i:i + n]
        i += n
    return bytes(out + data[i:])


with open("images/jcmyk.jpg", "rb") as f:
    cmyk = f.read()
assert b"Adobe" in cmyk
with open("images/jcmyk_noadobe.jpg", "wb") as f:
    f.write(strip_app14(cmyk))
with open("images/j420.jpg", "rb") as f:
    j420 = f.read()
assert j420.endswith(b"\xff\xd9")

# Larger pictures for DCT scaling (odd sizes, so the scaled size rounds up
# and the last chroma samples are partial).
big = photo(251, 189)
big.save("images/jbig420.jpg", quality=85, subsampling=2)
big.save("images/jbig422_progressive.jpg", quality=85, subsampling=1, progressive=True)
big.convert("L").save("images/jbiggray.jpg", quality=85)
big.convert("CMYK").save("images/jbigcmyk.jpg", quality=85)
for o in (3, 6, 7):
    big.save(f"images/jbigexif{o}.jpg", quality=85, subsampling=0, exif=exif(o))

for name in ["jrestart_rows.jpg", "jrestart_blocks.jpg", "jcmyk_noadobe.jpg"]:
    ImageOps.exif_transpose(Image.open(f"images/{name}")).convert("RGB").save(f"pillow/{name}.png")

# The larger pictures' answers would take 100 KB each as PNG; pillow/sampled.json
# keeps the SHA-256 of all of Pillow's RGB bytes (for an exact check) and
# every 16th row (to show where a difference is, and for checks within a
# tolerance).
sampled = {}
for name in sorted(os.listdir("images")):
    if not name.startswith("jbig"):
        continue
    im = ImageOps.exif_transpose(Image.open(f"images/{name}")).convert("RGB")
    px = np.asarray(im)
    sampled[name] = {"width": im.size[0], "height": im.size[1],
                     "sha256": hashlib.sha256(px.tobytes()).hexdigest(),
                     "rows": {str(y): base64.b64encode(px[y].tobytes()).decode() for y in range(0, im.size[1], 16)}}
with open("pillow/sampled.json", "w") as f:
    json.dump(sampled, f, indent=1, sort_keys=True)
    f.write("\n")

# Truncated files, which Pillow refuses, even when all the scan data is
# there and only the EOI marker is missing: refused/ holds them (also fuzz
# seeds, see fuzz_test.go), pillow/refused.json what Pillow said.
os.makedirs("refused", exist_ok=True)
with open("images/jprogressive.jpg", "rb") as f:
    prog = f.read()
truncated = {
    "jtrunc_baseline.jpg": j420[: len(j420) * 2 // 3],
    "jtrunc_baseline_noeoi.jpg": j420[:-2],
    "jtrunc_progressive.jpg": prog[: len(prog) * 2 // 3],
    "jtrunc_progressive_noeoi.jpg": prog[:-2],
    "jtrunc_header.jpg": j420[:200],
}
refused = {}
for name, data in sorted(truncated.items()):
    with open(f"refused/{name}", "wb") as f:
        f.write(data)
    try:
        Image.open(io.BytesIO(data)).load()
    except Exception as e:  # what Pillow says is the test's expectation
        refused[name] = f"{type(e).__name__}: {e}"
    else:
        raise SystemExit(f"Pillow decodes {name}; it does not belong in refused/")
with open("pillow/refused.json", "w") as f:
    json.dump(refused, f, indent=1, sort_keys=True)
    f.write("\n")

# DCT scaling: Pillow's draft(mode, size) picks 1/2, 1/4 or 1/8 so that the
# decoded image stays at least the target size, then resize(size, box)
# resizes from the part of it that shows the picture. The box is found by
# marking the partial last column and row of the stored image and looking
# where exif_transpose puts them.
def _with_orientation(im, o):
    im.info["exif"] = exif(o)
    return im


drafts = []
for name in ["jbig420.jpg", "jbig422_progressive.jpg", "jbiggray.jpg", "jbigcmyk.jpg", "jbigexif3.jpg",
             "jbigexif6.jpg", "jbigexif7.jpg"]:
    for tw, th in [(100, 75), (48, 40), (30, 23), (13, 9)]:
        im = Image.open(f"images/{name}")
        o = im.getexif().get(0x0112, 1)
        sw, sh = im.size  # stored
        req = (tw, th) if o < 5 else (th, tw)
        _, dbox = im.draft(im.mode, req)
        s = round(sw / dbox[2])
        assert im.size == (-(-sw // s), -(-sh // s))
        mark = np.zeros((im.size[1], im.size[0]), np.uint8)
        mark[:, -1] = 1  # stored last column
        mark[-1, :] |= 2  # stored last row
        mark = np.asarray(ImageOps.exif_transpose(_with_orientation(Image.fromarray(mark), o)))
        ow, oh = (sw, sh) if o < 5 else (sh, sw)
        bw, bh = ow / s, oh / s
        x0 = mark.shape[1] - bw if (mark[:, 0] != 0).all() else 0  # a partial column on the left
        y0 = mark.shape[0] - bh if (mark[0, :] != 0).all() else 0  # a partial row at the top
        box = (x0, y0, x0 + bw, y0 + bh)
        img = ImageOps.exif_transpose(im).convert("RGB")
        out = img.resize((tw, th), Image.BILINEAR, box=box)
        png = f"draft_{name}_{tw}x{th}.png"
        out.save(f"pillow/{png}")
        drafts.append({"image": name, "width": tw, "height": th, "scale": s,
                       "decoded": [img.size[0], img.size[1]], "box": box, "pillow": png})
with open("pillow/draft.json", "w") as f:
    json.dump(drafts, f, indent=1)
    f.write("\n")
