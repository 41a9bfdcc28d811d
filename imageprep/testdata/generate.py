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
