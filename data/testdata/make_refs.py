#!/usr/bin/python3
"""Reference outputs of open_clip's eval transform for package data's tests.

Run from the repository root with Debian's Python (Pillow 9.4, numpy):

    go run data/testdata/make_images.go      # Go-made variants of the fixture photos
    /usr/bin/python3 data/testdata/make_refs.py

It first writes the variants that Go cannot encode (JPEG with other chroma
subsamplings, progressive and CMYK JPEG, WebP, 1-bit PNG and TIFF, GIF with
transparency, LA, tRNS colour keys, BMP) into data/testdata/variants/, then, for
every file there, the output of open_clip's
image_transform(S, is_train=False) with S = 64 (S = 32 for the small "modes_*"
files):

    Resize(S, interpolation=BICUBIC)   # torchvision on a PIL image: Image.resize
    CenterCrop(S)
    _convert_to_rgb                    # image.convert("RGB")
    ToTensor()
    Normalize(OPENAI_DATASET_MEAN, OPENAI_DATASET_STD)

written step by step with Pillow and numpy (torchvision is not installed here;
each step is what torchvision does for a PIL image). The tensors are stored as
float16 [3, S, S] under the file name in refs64.safetensors. For a few small
JPEGs the file also holds Pillow's decoded pixels ("decoded/<name>", uint8
[H, W, 3]) so the tests can measure the JPEG decoder difference on its own, and
for a few files the crop-then-resize of RandomResizedCrop with a fixed box ("crop/<name>", float16
[3, S, S]; the boxes (x, y, w, h) are in the metadata under "crop_boxes").
"""

import json
import os
import struct

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = os.path.join(HERE, "variants")
SIZE = 64
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def make_pillow_variants():
    chelsea = Image.open(os.path.join(HERE, "chelsea.png")).convert("RGB")
    coffee = Image.open(os.path.join(HERE, "coffee.png")).convert("RGB")
    astronaut = Image.open(os.path.join(HERE, "astronaut.png")).convert("RGB")
    crop = chelsea.crop((180, 60, 277, 133))  # 97×73: odd sizes exercise the edges
    crop.save(os.path.join(VARIANTS, "pil_444.jpg"), quality=90, subsampling=0)
    crop.save(os.path.join(VARIANTS, "pil_422.jpg"), quality=90, subsampling=1)
    crop.save(os.path.join(VARIANTS, "pil_420.jpg"), quality=90, subsampling=2)
    coffee.crop((101, 51, 400, 300)).save(
        os.path.join(VARIANTS, "pil_420_odd_progressive.jpg"), quality=80, progressive=True)
    astronaut.crop((50, 60, 250, 220)).convert("CMYK").save(
        os.path.join(VARIANTS, "pil_cmyk.jpg"), quality=90)
    coffee.crop((200, 80, 400, 230)).save(os.path.join(VARIANTS, "pil_lossy.webp"), quality=85)
    coffee.crop((200, 80, 400, 230)).save(os.path.join(VARIANTS, "pil_lossless.webp"), lossless=True)
    rgba = astronaut.crop((100, 100, 300, 250)).convert("RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    rgba.save(os.path.join(VARIANTS, "pil_alpha_lossy.webp"), quality=85)
    # A GIF with a transparent palette entry that many pixels use (Pillow keeps
    # the entry's colour when converting to RGB).
    p = coffee.crop((300, 100, 460, 220)).quantize(64)
    p.save(os.path.join(VARIANTS, "pil_transparent.gif"), transparency=p.getpixel((80, 60)))
    # Small files for the less common modes ("modes_*", references at 32 px).
    m = coffee.crop((260, 150, 340, 210))  # 80×60
    v = lambda n: os.path.join(VARIANTS, "modes_" + n)
    la = m.convert("LA")
    la.putalpha(Image.linear_gradient("L").rotate(90).resize(m.size))
    la.save(v("la.png"))
    m.save(v("rgb_trns.png"), transparency=m.getpixel((40, 30)))
    m.convert("L").save(v("l_trns.png"), transparency=m.convert("L").getpixel((40, 30)))
    q = m.quantize(32)
    q.save(v("p_trns.png"), transparency=q.getpixel((40, 30)))
    # (No 16-bit TIFF: Pillow 9.4 opens it as "I;16", which Image.resize(BICUBIC)
    # refuses with "image has wrong mode", so open_clip cannot load one.)
    m.convert("L").save(v("l.bmp"))
    q.save(v("p.bmp"))
    q.convert("RGB").save(v("rgb.tif"), compression="tiff_lzw")
    m.convert("L").convert("1").save(v("bilevel.tif"))
    astronaut.crop((0, 0, 256, 192)).convert("L").convert("1").save(os.path.join(VARIANTS, "pil_bilevel.png"))


def eval_transform(im, size):
    # torchvision Resize(size): shorter side to size, longer int(size*long/short).
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    if short != size:
        new_short, new_long = size, int(size * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        im = im.resize((new_w, new_h), Image.BICUBIC)
    # CenterCrop(size)
    w, h = im.size
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    im = im.crop((left, top, left + size, top + size))
    # _convert_to_rgb, ToTensor, Normalize
    im = im.convert("RGB")
    x = np.asarray(im, dtype=np.uint8).astype(np.float32) / np.float32(255)
    x = x.transpose(2, 0, 1)
    return (x - MEAN[:, None, None]) / STD[:, None, None]


def crop_box(w, h):
    # A fixed crop for checking the crop-then-resize path of RandomResizedCrop
    # (torchvision F.resized_crop: img.crop((x, y, x+cw, y+ch)).resize((S, S), BICUBIC)).
    return w // 10, h // 12, int(w * 0.93) - w // 10 // 2, int(h * 0.9)


def resized_crop_transform(im, size):
    x, y, cw, ch = crop_box(*im.size)
    im = im.crop((x, y, x + cw, y + ch)).resize((size, size), Image.BICUBIC).convert("RGB")
    t = np.asarray(im, dtype=np.uint8).astype(np.float32) / np.float32(255)
    return (t.transpose(2, 0, 1) - MEAN[:, None, None]) / STD[:, None, None], (x, y, cw, ch)


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, arr in tensors:
        dtype = {np.dtype(np.float16): "F16", np.dtype(np.uint8): "U8"}[arr.dtype]
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    make_pillow_variants()
    tensors = []
    boxes = {}
    for name in sorted(os.listdir(VARIANTS)):
        if name.endswith((".go", ".py")):
            continue
        im = Image.open(os.path.join(VARIANTS, name))
        print(f"{name:32s} {im.format:5s} {im.mode:5s} {im.size}")
        size = 32 if name.startswith("modes_") else SIZE
        tensors.append((name, eval_transform(im, size).astype(np.float16)))
        if name in ("pil_444.jpg", "pil_422.jpg", "pil_420.jpg", "grey.jpg"):
            tensors.append(("decoded/" + name, np.asarray(im.convert("RGB"), dtype=np.uint8)))
        if name in ("rgba.png", "palette_fs.png", "pil_lossy.webp"):
            t, box = resized_crop_transform(im, SIZE)
            tensors.append(("crop/" + name, t.astype(np.float16)))
            boxes[name] = box
    import PIL

    write_safetensors(os.path.join(HERE, "refs64.safetensors"), tensors,
                      {"size": str(SIZE), "pillow": PIL.__version__, "numpy": np.__version__,
                       "transform": "Resize(bicubic) CenterCrop _convert_to_rgb ToTensor Normalize(OpenAI)",
                       "crop_boxes": json.dumps(boxes)})


if __name__ == "__main__":
    main()
