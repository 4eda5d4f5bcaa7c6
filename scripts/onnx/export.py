#!/usr/bin/python3
"""Exports the project's PyTorch reference encoders to ONNX, for timing ONNX Runtime.

Builds the model of --config (default golden/pytorch/configs/coca_ViT-B-32.json) with the
graph of golden/pytorch/coca_ref.py (float32, random init, seed 0: the same init as
golden/pytorch/bench.py) and writes, into --out:

  image.onnx   image (B, 3, S, S) float32 -> features (B, D) (normalized, as gococa's
               EncodeImage) and tokens (B, Q, D) (the attentional pooler's output)
  image_features.onnx  the same graph with the features alone, as open_clip's
               encode_image returns them (gococa: EncodeImageFeatures)
  text.onnx    text (B, L) int64 -> features (B, D) (normalized, as EncodeText)
  check/       inputs and PyTorch's outputs at two batch sizes other than the exported
               one (raw little-endian float32 / int64 files and check.json describing
               them), for bench.js --check, which runs the ONNX models on them

torch.onnx.export, opset 17, dynamic batch axis, weights as initializers. The export
runs with gradients enabled (the reference's attention is plain matmul/softmax, but
the traced graph is the same either way) and the text mask is built by coca_ref.py
from triu/masked_fill/index assignment, which export without a Loop.

Usage (Debian's python3 with python3-torch 1.13):
  /usr/bin/python3 scripts/onnx/export.py --out DIR [--config CONFIG.json]
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "golden", "pytorch"))
import coca_ref  # noqa: E402

OPSET = 17


def static_layer_norm(widths):
    """coca_ref.layer_norm with its normalized shape taken from the parameter shapes
    before tracing: x.shape[-1] would be traced into a Gather, and F.layer_norm's
    normalized_shape must be a constant to export."""
    def layer_norm(P, prefix, x):
        return F.layer_norm(x, (widths[prefix],), P[prefix + ".weight"], P[prefix + ".bias"], coca_ref.LN_EPS)
    return layer_norm


class ImageEncoder(torch.nn.Module):
    def __init__(self, c, P):
        super().__init__()
        self.c = c
        self.names = sorted(k for k in P if k.startswith("visual."))
        for i, k in enumerate(self.names):
            self.register_buffer("p%d" % i, P[k])

    def forward(self, image):
        P = {k: getattr(self, "p%d" % i) for i, k in enumerate(self.names)}
        lat, tokens = coca_ref.encode_image(self.c, P, image)
        return F.normalize(lat, dim=-1), tokens


class ImageFeatures(ImageEncoder):
    def forward(self, image):
        return super().forward(image)[0]


class TextEncoder(torch.nn.Module):
    def __init__(self, c, P):
        super().__init__()
        self.c = c
        self.names = sorted(k for k in P if k.startswith("text."))
        for i, k in enumerate(self.names):
            self.register_buffer("p%d" % i, P[k])

    def forward(self, text):
        P = {k: getattr(self, "p%d" % i) for i, k in enumerate(self.names)}
        lat, _ = coca_ref.encode_text(self.c, P, text, torch.float32)
        return F.normalize(lat, dim=-1)


def save(dirname, name, t):
    path = os.path.join(dirname, name + ".bin")
    t.contiguous().numpy().tofile(path)
    return {"file": name + ".bin", "dtype": {torch.float32: "float32", torch.int64: "int64"}[t.dtype],
            "shape": list(t.shape)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(REPO, "golden", "pytorch", "configs", "coca_ViT-B-32.json"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    c = coca_ref.load_config(args.config)
    P = coca_ref.init_params(c, 0)
    coca_ref.layer_norm = static_layer_norm(
        {k[: -len(".weight")]: int(v.shape[0]) for k, v in P.items() if k.endswith(".weight") and v.dim() == 1})
    os.makedirs(os.path.join(args.out, "check"), exist_ok=True)

    img_enc, txt_enc = ImageEncoder(c, P).eval(), TextEncoder(c, P).eval()
    feat_enc = ImageFeatures(c, P).eval()
    image2, text2 = coca_ref.make_inputs(c, 2, 1234)
    t0 = time.time()
    torch.onnx.export(img_enc, (image2,), os.path.join(args.out, "image.onnx"), opset_version=OPSET,
                      input_names=["image"], output_names=["features", "tokens"],
                      dynamic_axes={"image": {0: "batch"}, "features": {0: "batch"}, "tokens": {0: "batch"}},
                      do_constant_folding=True)
    torch.onnx.export(feat_enc, (image2,), os.path.join(args.out, "image_features.onnx"), opset_version=OPSET,
                      input_names=["image"], output_names=["features"],
                      dynamic_axes={"image": {0: "batch"}, "features": {0: "batch"}},
                      do_constant_folding=True)
    torch.onnx.export(txt_enc, (text2,), os.path.join(args.out, "text.onnx"), opset_version=OPSET,
                      input_names=["text"], output_names=["features"],
                      dynamic_axes={"text": {0: "batch"}, "features": {0: "batch"}},
                      do_constant_folding=True)
    print("exported image.onnx, image_features.onnx and text.onnx (opset %d) in %.1f s" % (OPSET, time.time() - t0), file=sys.stderr)

    # Reference outputs at batch sizes other than the exported one (the dynamic axis
    # must really be dynamic), both towers.
    checks = []
    with torch.no_grad():
        for b in (1, 3):
            image, text = coca_ref.make_inputs(c, b, 99 + b)
            feat, tokens = img_enc(image)
            checks.append({"model": "image.onnx", "inputs": {"image": save(os.path.join(args.out, "check"), "image_b%d" % b, image)},
                           "outputs": {"features": save(os.path.join(args.out, "check"), "image_features_b%d" % b, feat),
                                       "tokens": save(os.path.join(args.out, "check"), "image_tokens_b%d" % b, tokens)}})
            checks.append({"model": "image_features.onnx", "inputs": {"image": checks[-1]["inputs"]["image"]},
                           "outputs": {"features": checks[-1]["outputs"]["features"]}})
            feat = txt_enc(text)
            checks.append({"model": "text.onnx", "inputs": {"text": save(os.path.join(args.out, "check"), "text_b%d" % b, text)},
                           "outputs": {"features": save(os.path.join(args.out, "check"), "text_features_b%d" % b, feat)}})
    meta = {"config": os.path.abspath(args.config), "opset": OPSET, "torch": torch.__version__,
            "image_size": c["vision"]["image_size"], "context_length": c["text"]["context_length"],
            "vocab_size": c["text"]["vocab_size"], "checks": checks}
    with open(os.path.join(args.out, "check", "check.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
