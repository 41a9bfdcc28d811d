#!/usr/bin/python3
"""Hugging Face transformers' (Python) image-classification preprocessing
for a ConvNext image processor (microsoft/resnet-50's), written out with
Pillow and numpy, for edgeinfer's ResNet top-5 parity test.

    /usr/bin/python3 pillow_pixels.py PREPROCESSOR_CONFIG OUT_DIR IMAGE...

For each IMAGE, OUT_DIR gets <basename>.f32 (little-endian float32, CHW)
and stdout one JSON line {"file", "dims", "out"}. The steps are those of
transformers.image_utils.load_image and ConvNextImageProcessor.preprocess
(do_resize with crop_pct below 384, center_crop, rescale, normalize):

  ImageOps.exif_transpose(Image.open(f)).convert("RGB")
  resize the shorter side to int(shortest_edge / crop_pct), the longer to
    int(that * long / short), PIL resample, reducing_gap None
  centre crop shortest_edge: top = (h - crop) // 2, left = (w - crop) // 2
  rescale: float64 multiply, stored as float32; normalize in float32.

Needs Debian's python3-pil and python3-numpy.
"""
import json
import os
import sys

import numpy as np
from PIL import Image, ImageOps


def pixel_values(path, cfg):
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    shortest = cfg["size"]["shortest_edge"]
    if shortest >= 384:
        raise SystemExit("only the crop_pct path (shortest_edge < 384) is implemented")
    target = int(shortest / cfg.get("crop_pct", 224 / 256))
    w, h = im.size
    short, long = min(w, h), max(w, h)
    new_long = int(target * long / short)
    size = (target, new_long) if w <= h else (new_long, target)
    im = im.resize(size, resample=cfg.get("resample", 3), reducing_gap=None)
    a = np.asarray(im)
    top, left = (a.shape[0] - shortest) // 2, (a.shape[1] - shortest) // 2
    a = a[top:top + shortest, left:left + shortest]
    a = (a.astype(np.float64) * cfg.get("rescale_factor", 1 / 255)).astype(np.float32)
    mean = np.array(cfg["image_mean"], dtype=np.float32)
    std = np.array(cfg["image_std"], dtype=np.float32)
    a = ((a - mean) / std).astype(np.float32)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def main():
    config, out_dir, *images = sys.argv[1:]
    with open(config) as f:
        cfg = json.load(f)
    for path in images:
        v = pixel_values(path, cfg)
        out = os.path.join(out_dir, os.path.basename(path) + ".f32")
        v.astype("<f4").tofile(out)
        print(json.dumps({"file": path, "dims": list(v.shape), "out": out}))


main()
