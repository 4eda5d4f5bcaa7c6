#!/usr/bin/python3
"""Independent PyTorch reference of open_clip's CoCa graph, for gococa's golden tests.

Written from /work/shared/docs/openclip-coca.md with torch.nn.functional primitives
only (open_clip is not imported). Parameters live in a flat dict under open_clip's
state_dict names, so open_clip checkpoints and the shared fixtures load unchanged.

Usage (run with Debian's /usr/bin/python3, which has python3-torch):
  coca_ref.py --config CONFIG.json [--weights W.safetensors | --init-seed N] --out DIR
              [--batch B] [--greedy-steps n] [--data-seed S] [--text-len L]
              [--dtype float64|float32]
              [--verify]
  coca_ref.py --check DIR [--dtype float64|float32]

Generation writes DIR/config.json (the config file as given), DIR/weights.safetensors
and DIR/io.safetensors (the same names and semantics as the fixtures written by
open_clip, see README.md). The graph is computed in float64 by default and stored as
float32, so the stored values are the float32 roundings of the exact results.
--verify reruns the fixture through independent paths (float32 compute; each batch
row alone) and fails if they disagree beyond the fixture tolerances.

--check loads DIR's config, weights and inputs, recomputes everything and prints, per
tensor, max |diff| (or relative diff / relative norm) against DIR/io.safetensors with
PASS/FAIL; exit status 1 if anything fails.
"""

import argparse
import json
import math
import os
import shutil
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

PAD_ID = 0
LN_EPS = 1e-5
CONTRASTIVE_WEIGHT = 1.0
CAPTION_WEIGHT = 2.0
GREEDY_START = 1

# Tolerances of the shared fixture README.
TOL_ABS = 1e-4  # features, tokens, logits: max |diff|
TOL_LOSS = 1e-5  # losses, logit_scale: relative diff
TOL_GRAD = 1e-4  # gradients: ||g - ref|| / ||ref||


# ---------------------------------------------------------------------------
# Config


class ConfigError(ValueError):
    pass


_VISION_KEYS = {
    "image_size", "patch_size", "width", "layers", "head_width", "mlp_ratio",
    "attentional_pool", "attn_pooler_queries", "attn_pooler_heads", "output_tokens",
}
_TEXT_KEYS = {
    "context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio",
    "embed_cls", "correct_cls_mask", "output_tokens", "pad_id",
}
_MM_KEYS = _TEXT_KEYS | {"attn_pooler_heads"}


def _get(d, key, default, path, section):
    v = d.get(key, default)
    if v is None:
        raise ConfigError("%s: %s.%s: required field missing" % (path, section, key))
    return v


def load_config(path):
    """Reads an open_clip CoCa model config, filling defaults from openclip-coca.md."""
    with open(path) as f:
        raw = json.load(f)
    for key in ("embed_dim", "vision_cfg", "text_cfg", "multimodal_cfg"):
        if key not in raw:
            raise ConfigError("%s: %s: required field missing" % (path, key))
    for sec, known in (("vision_cfg", _VISION_KEYS), ("text_cfg", _TEXT_KEYS), ("multimodal_cfg", _MM_KEYS)):
        for k in raw[sec]:
            if k not in known:
                print("warning: %s: %s.%s ignored" % (path, sec, k), file=sys.stderr)
    vc, tc, mc = raw["vision_cfg"], raw["text_cfg"], raw["multimodal_cfg"]
    c = {
        "embed_dim": int(raw["embed_dim"]),
        "quick_gelu": bool(raw.get("quick_gelu", False)),
        "vision": {
            "image_size": int(_get(vc, "image_size", 224, path, "vision_cfg")),
            "patch_size": int(_get(vc, "patch_size", 16, path, "vision_cfg")),
            "width": int(_get(vc, "width", 768, path, "vision_cfg")),
            "layers": int(_get(vc, "layers", 12, path, "vision_cfg")),
            "head_width": int(vc.get("head_width", 64)),
            "mlp_ratio": float(vc.get("mlp_ratio", 4.0)),
            "attentional_pool": vc.get("attentional_pool", False),
            "queries": int(vc.get("attn_pooler_queries", 256)),
            "pool_heads": int(vc.get("attn_pooler_heads", 8)),
        },
        "text": {
            "context_length": int(tc.get("context_length", 76)),
            "vocab_size": int(tc.get("vocab_size", 49408)),
            "width": int(tc.get("width", 512)),
            "heads": int(tc.get("heads", 8)),
            "layers": int(tc.get("layers", 12)),
            "mlp_ratio": float(tc.get("mlp_ratio", 4.0)),
            "embed_cls": bool(tc.get("embed_cls", True)),
            "correct_cls_mask": bool(tc.get("correct_cls_mask", False)),
        },
        "multimodal": {
            "context_length": int(mc.get("context_length", 76)),
            "width": int(mc.get("width", 512)),
            "heads": int(mc.get("heads", 8)),
            "layers": int(mc.get("layers", 12)),
            # open_clip's _build_text_decoder_tower passes no mlp_ratio: the
            # decoder's MLPs have ratio 4 whatever multimodal_cfg says.
            "mlp_ratio": 4.0,
        },
    }
    v, t, m, D = c["vision"], c["text"], c["multimodal"], c["embed_dim"]
    ap = v["attentional_pool"]
    if ap is True:
        v["pool"] = "legacy"
    elif ap in ("parallel", "cascade"):
        v["pool"] = ap
    else:
        raise ConfigError("%s: vision_cfg.attentional_pool: %r not supported (CoCa needs true, "
                          "\"parallel\" or \"cascade\")" % (path, ap))
    if v["width"] % v["head_width"]:
        raise ConfigError("%s: vision_cfg.width %d not a multiple of head_width %d" % (path, v["width"], v["head_width"]))
    v["heads"] = v["width"] // v["head_width"]
    if v["image_size"] % v["patch_size"]:
        raise ConfigError("%s: vision_cfg.image_size %d not a multiple of patch_size %d" % (path, v["image_size"], v["patch_size"]))
    if D % v["pool_heads"]:
        raise ConfigError("%s: embed_dim %d not a multiple of vision_cfg.attn_pooler_heads %d" % (path, D, v["pool_heads"]))
    if v["pool"] != "legacy" and v["width"] != D:
        raise ConfigError("%s: vision_cfg.width %d must equal embed_dim %d for %s pooling" % (path, v["width"], D, v["pool"]))
    if not t["embed_cls"]:
        raise ConfigError("%s: text_cfg.embed_cls false not supported by CoCa" % path)
    if t["width"] % t["heads"] or m["width"] % m["heads"]:
        raise ConfigError("%s: text/multimodal width not a multiple of heads" % path)
    if m["width"] != t["width"]:
        raise ConfigError("%s: multimodal_cfg.width %d must equal text_cfg.width %d" % (path, m["width"], t["width"]))
    if D != m["width"]:
        raise ConfigError("%s: embed_dim %d must equal multimodal_cfg.width %d (image tokens feed the decoder)" % (path, D, m["width"]))
    return c


# ---------------------------------------------------------------------------
# Parameters (names exactly as open_clip's state_dict)


def _mlp_hidden(width, ratio):
    return int(width * ratio)


def _block_shapes(prefix, W, hidden, cross=False):
    s = [
        (prefix + "ln_1.weight", (W,), "ln_w"),
        (prefix + "ln_1.bias", (W,), "bias"),
        (prefix + "attn.in_proj_weight", (3 * W, W), "linear"),
        (prefix + "attn.in_proj_bias", (3 * W,), "bias"),
        (prefix + "attn.out_proj.weight", (W, W), "linear"),
        (prefix + "attn.out_proj.bias", (W,), "bias"),
    ]
    if cross:
        s += [(prefix + "ln_1_kv.weight", (W,), "ln_w"), (prefix + "ln_1_kv.bias", (W,), "bias")]
    s += [
        (prefix + "ln_2.weight", (W,), "ln_w"),
        (prefix + "ln_2.bias", (W,), "bias"),
        (prefix + "mlp.c_fc.weight", (hidden, W), "linear"),
        (prefix + "mlp.c_fc.bias", (hidden,), "bias"),
        (prefix + "mlp.c_proj.weight", (W, hidden), "linear"),
        (prefix + "mlp.c_proj.bias", (W,), "bias"),
    ]
    return s


def _pooler_shapes(prefix, d_model, context_dim, queries):
    s = [(prefix + "query", (queries, d_model), "query")]
    if context_dim == d_model:
        s.append((prefix + "attn.in_proj_weight", (3 * d_model, d_model), "linear"))
    else:
        s += [
            (prefix + "attn.q_proj_weight", (d_model, d_model), "linear"),
            (prefix + "attn.k_proj_weight", (d_model, context_dim), "linear"),
            (prefix + "attn.v_proj_weight", (d_model, context_dim), "linear"),
        ]
    s += [
        (prefix + "attn.in_proj_bias", (3 * d_model,), "bias"),
        (prefix + "attn.out_proj.weight", (d_model, d_model), "linear"),
        (prefix + "attn.out_proj.bias", (d_model,), "bias"),
        (prefix + "ln_q.weight", (d_model,), "ln_w"),
        (prefix + "ln_q.bias", (d_model,), "bias"),
        (prefix + "ln_k.weight", (context_dim,), "ln_w"),
        (prefix + "ln_k.bias", (context_dim,), "bias"),
    ]
    return s


def param_shapes(c):
    """Ordered list of (name, shape, kind) of every parameter of the model."""
    D = c["embed_dim"]
    v, t, m = c["vision"], c["text"], c["multimodal"]
    Wv, Wt, Wm, V = v["width"], t["width"], m["width"], t["vocab_size"]
    grid = v["image_size"] // v["patch_size"]
    s = [("logit_scale", (), "logit_scale")]
    # text tower
    s += [
        ("text.cls_emb", (Wt,), "embed"),
        ("text.positional_embedding", (t["context_length"] + 1, Wt), "embed"),
        ("text.text_projection", (Wt, D), "proj"),
        ("text.token_embedding.weight", (V, Wt), "embed"),
    ]
    for i in range(t["layers"]):
        s += _block_shapes("text.transformer.resblocks.%d." % i, Wt, _mlp_hidden(Wt, t["mlp_ratio"]))
    s += [("text.ln_final.weight", (Wt,), "ln_w"), ("text.ln_final.bias", (Wt,), "bias")]
    # vision tower
    s += [
        ("visual.class_embedding", (Wv,), "vembed"),
        ("visual.positional_embedding", (grid * grid + 1, Wv), "vembed"),
        ("visual.proj", (D, D), "proj"),
        ("visual.conv1.weight", (Wv, 3, v["patch_size"], v["patch_size"]), "conv"),
        ("visual.ln_pre.weight", (Wv,), "ln_w"),
        ("visual.ln_pre.bias", (Wv,), "bias"),
    ]
    for i in range(v["layers"]):
        s += _block_shapes("visual.transformer.resblocks.%d." % i, Wv, _mlp_hidden(Wv, v["mlp_ratio"]))
    s += _pooler_shapes("visual.attn_pool.", D, Wv, v["queries"])
    if v["pool"] != "legacy":
        s += _pooler_shapes("visual.attn_pool_contrastive.", D, Wv, 1)
    post = D if v["pool"] == "legacy" else Wv
    s += [("visual.ln_post.weight", (post,), "ln_w"), ("visual.ln_post.bias", (post,), "bias")]
    # multimodal decoder
    s += [("text_decoder.text_projection", (Wm, V), "proj")]
    hm = _mlp_hidden(Wm, m["mlp_ratio"])
    for i in range(m["layers"]):
        s += _block_shapes("text_decoder.resblocks.%d." % i, Wm, hm)
    for i in range(m["layers"]):
        s += _block_shapes("text_decoder.cross_attn.%d." % i, Wm, hm, cross=True)
    s += [("text_decoder.ln_final.weight", (Wm,), "ln_w"), ("text_decoder.ln_final.bias", (Wm,), "bias")]
    return s


def init_params(c, seed):
    """Random init with every parameter perturbed (LN gains not 1, biases not 0)."""
    g = torch.Generator().manual_seed(seed)

    def rn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    P = {}
    for name, shape, kind in param_shapes(c):
        if kind == "logit_scale":
            x = torch.tensor(math.log(1 / 0.07), dtype=torch.float64) + 0.05 * rn(())
        elif kind == "ln_w":
            x = 1.0 + 0.1 * rn(*shape)
        elif kind == "bias":
            x = 0.05 * rn(*shape)
        elif kind == "linear" or kind == "proj":
            x = rn(*shape) * shape[-1] ** -0.5 if kind == "linear" else rn(*shape) * shape[0] ** -0.5
        elif kind == "conv":
            fan_in = shape[1] * shape[2] * shape[3]
            x = rn(*shape) * fan_in ** -0.5
        elif kind == "embed":
            # larger than open_clip's 0.01-0.02 so token identity and position matter and
            # greedy decoding does not collapse onto one token in tiny random models
            x = 0.5 * rn(*shape)
        elif kind == "vembed":
            x = rn(*shape) * shape[-1] ** -0.5
        elif kind == "query":
            x = rn(*shape)
        else:
            raise AssertionError(kind)
        P[name] = x.to(torch.float32)
    return P


def check_params(c, P, path):
    want = param_shapes(c)
    names = {n for n, _, _ in want}
    for name, shape, _ in want:
        if name not in P:
            raise ConfigError("%s: parameter %s missing" % (path, name))
        got = tuple(P[name].shape)
        if name == "logit_scale" and got in ((), (1,)):
            continue
        if got != tuple(shape):
            raise ConfigError("%s: parameter %s has shape %s, config wants %s" % (path, name, got, tuple(shape)))
    extra = sorted(set(P) - names)
    if extra:
        raise ConfigError("%s: unexpected parameters: %s" % (path, ", ".join(extra[:5])))


# ---------------------------------------------------------------------------
# Graph


def layer_norm(P, prefix, x):
    w, b = P[prefix + ".weight"], P[prefix + ".bias"]
    return F.layer_norm(x, (x.shape[-1],), w, b, LN_EPS)


def act(c, x):
    if c["quick_gelu"]:
        return x * torch.sigmoid(1.702 * x)
    return F.gelu(x)  # exact erf form


def linear(x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


def mha(P, prefix, xq, xkv, heads, mask=None):
    """nn.MultiheadAttention math, batch first. xq (B, Lq, W), xkv (B, Lk, Wkv).

    mask: additive, broadcastable to (B, heads, Lq, Lk)."""
    bias = P[prefix + "in_proj_bias"]
    W = bias.shape[0] // 3
    if prefix + "in_proj_weight" in P:
        wq, wk, wv = P[prefix + "in_proj_weight"].split(W, dim=0)
    else:
        wq, wk, wv = P[prefix + "q_proj_weight"], P[prefix + "k_proj_weight"], P[prefix + "v_proj_weight"]
    bq, bk, bv = bias.split(W)
    B, Lq, Lk = xq.shape[0], xq.shape[1], xkv.shape[1]
    hd = W // heads
    q = linear(xq, wq, bq).reshape(B, Lq, heads, hd).transpose(1, 2)
    k = linear(xkv, wk, bk).reshape(B, Lk, heads, hd).transpose(1, 2)
    v = linear(xkv, wv, bv).reshape(B, Lk, heads, hd).transpose(1, 2)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    if mask is not None:
        s = s + mask
    a = torch.softmax(s, dim=-1)
    o = (a @ v).transpose(1, 2).reshape(B, Lq, W)
    return linear(o, P[prefix + "out_proj.weight"], P[prefix + "out_proj.bias"])


def mlp(c, P, prefix, x):
    h = act(c, linear(x, P[prefix + "c_fc.weight"], P[prefix + "c_fc.bias"]))
    return linear(h, P[prefix + "c_proj.weight"], P[prefix + "c_proj.bias"])


def resblock(c, P, prefix, x, heads, mask=None):
    h = layer_norm(P, prefix + "ln_1", x)
    x = x + mha(P, prefix + "attn.", h, h, heads, mask)
    return x + mlp(c, P, prefix + "mlp.", layer_norm(P, prefix + "ln_2", x))


def cross_block(c, P, prefix, x, kv, heads):
    h = layer_norm(P, prefix + "ln_1", x)
    kvn = layer_norm(P, prefix + "ln_1_kv", kv)
    x = x + mha(P, prefix + "attn.", h, kvn, heads)
    return x + mlp(c, P, prefix + "mlp.", layer_norm(P, prefix + "ln_2", x))


def attn_pool(c, P, prefix, x):
    """AttentionalPooler: learned queries cross-attend to ln_k(x). x (B, N, Wkv) -> (B, Q, D)."""
    B = x.shape[0]
    kv = layer_norm(P, prefix + "ln_k", x)
    q = layer_norm(P, prefix + "ln_q", P[prefix + "query"])
    q = q.unsqueeze(0).expand(B, -1, -1)
    return mha(P, prefix + "attn.", q, kv, c["vision"]["pool_heads"])


def encode_image(c, P, image):
    """image (B, 3, S, S) -> pooled latent (B, D) before normalize, image tokens (B, T, D)."""
    v = c["vision"]
    B = image.shape[0]
    x = F.conv2d(image, P["visual.conv1.weight"], stride=v["patch_size"])  # (B, Wv, g, g)
    x = x.reshape(B, v["width"], -1).transpose(1, 2)  # (B, N, Wv)
    cls = P["visual.class_embedding"].reshape(1, 1, -1).expand(B, 1, -1)
    x = torch.cat([cls, x], dim=1) + P["visual.positional_embedding"]
    x = layer_norm(P, "visual.ln_pre", x)
    for i in range(v["layers"]):
        x = resblock(c, P, "visual.transformer.resblocks.%d." % i, x, v["heads"])
    if v["pool"] == "legacy":
        x = attn_pool(c, P, "visual.attn_pool.", x)
        x = layer_norm(P, "visual.ln_post", x)
        pooled, tokens = x[:, 0], x[:, 1:]
    else:
        x = layer_norm(P, "visual.ln_post", x)
        tokens = attn_pool(c, P, "visual.attn_pool.", x)
        src = x if v["pool"] == "parallel" else tokens
        pooled = attn_pool(c, P, "visual.attn_pool_contrastive.", src)[:, 0]
    return pooled @ P["visual.proj"], tokens


def text_mask(c, text, dtype):
    """Additive mask (B, 1, L+1, L+1): causal plus the CLS row's key mask."""
    B, L = text.shape
    n = L + 1
    neg = float("-inf")
    causal = torch.full((n, n), neg, dtype=dtype).triu(1)
    valid = torch.ones(B, n, dtype=torch.bool)
    if c["text"]["correct_cls_mask"]:
        valid[:, :L] = text != PAD_ID  # key j valid iff text[j] != pad; CLS always valid
    else:
        valid[:, 1:] = text != PAD_ID  # legacy: key j valid iff j == 0 or text[j-1] != pad
    cls_row = torch.zeros(B, n, dtype=dtype).masked_fill(~valid, neg)
    mask = causal.unsqueeze(0).repeat(B, 1, 1)
    mask[:, L, :] = mask[:, L, :] + cls_row
    return mask.unsqueeze(1)


def encode_text(c, P, text, dtype):
    """text (B, L) int64 -> pooled latent (B, D) before normalize, token outputs (B, L, W)."""
    t = c["text"]
    B, L = text.shape
    x = P["text.token_embedding.weight"][text]
    cls = P["text.cls_emb"].reshape(1, 1, -1).expand(B, 1, -1)
    x = torch.cat([x, cls], dim=1) + P["text.positional_embedding"][: L + 1]
    mask = text_mask(c, text, dtype)
    for i in range(t["layers"]):
        x = resblock(c, P, "text.transformer.resblocks.%d." % i, x, t["heads"], mask)
    pooled = layer_norm(P, "text.ln_final", x[:, L]) @ P["text.text_projection"]
    return pooled, x[:, :L]


def decode(c, P, image_embs, token_embs, dtype):
    """Multimodal decoder: token_embs (B, L, W), image_embs (B, T, W) -> logits (B, L, V)."""
    m = c["multimodal"]
    L = token_embs.shape[1]
    causal = torch.full((L, L), float("-inf"), dtype=dtype).triu(1)
    x = token_embs
    for i in range(m["layers"]):
        x = resblock(c, P, "text_decoder.resblocks.%d." % i, x, m["heads"], causal)
        x = cross_block(c, P, "text_decoder.cross_attn.%d." % i, x, image_embs, m["heads"])
    x = layer_norm(P, "text_decoder.ln_final", x)
    return x @ P["text_decoder.text_projection"]


def forward(c, P, image, text, dtype):
    """One training step's forward: outputs and losses (tensors in dtype)."""
    img_lat, image_embs = encode_image(c, P, image)
    txt_lat, token_embs = encode_text(c, P, text, dtype)
    img_f = F.normalize(img_lat, dim=-1, eps=1e-12)
    txt_f = F.normalize(txt_lat, dim=-1, eps=1e-12)
    logits = decode(c, P, image_embs, token_embs[:, :-1], dtype)
    labels = text[:, 1:]
    scale = P["logit_scale"].reshape(()).exp()
    lpi = scale * img_f @ txt_f.t()
    target = torch.arange(image.shape[0])
    contrastive = (F.cross_entropy(lpi, target) + F.cross_entropy(lpi.t(), target)) / 2 * CONTRASTIVE_WEIGHT
    caption = F.cross_entropy(logits.permute(0, 2, 1), labels, ignore_index=PAD_ID) * CAPTION_WEIGHT
    return {
        "output.image_features": img_f,
        "output.text_features": txt_f,
        "output.image_features_unnormalized": img_lat,
        "output.text_features_unnormalized": txt_lat,
        "output.image_embs": image_embs,
        "output.text_tokens": token_embs,
        "output.logit_scale": scale.reshape(1),
        "output.logits": logits,
        "output.labels": labels,
        "loss.contrastive": contrastive.reshape(1),
        "loss.caption": caption.reshape(1),
        "loss.total": (contrastive + caption).reshape(1),
    }


def greedy(c, P, image, steps, dtype):
    """Greedy decoding from token GREEDY_START, `steps` steps, argmax of the last position,
    no eot stop, whole prefix recomputed each step. Returns tokens (B, 1+steps) and the
    smallest top-1 minus top-2 logit margin seen (how safe the argmax is)."""
    _, image_embs = encode_image(c, P, image)
    B = image.shape[0]
    tokens = torch.full((B, 1), GREEDY_START, dtype=torch.int64)
    margin = float("inf")
    for _ in range(steps):
        _, token_embs = encode_text(c, P, tokens, dtype)
        logits = decode(c, P, image_embs, token_embs, dtype)[:, -1]
        top2 = logits.topk(2, dim=-1).values
        margin = min(margin, float((top2[:, 0] - top2[:, 1]).min()))
        tokens = torch.cat([tokens, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return tokens, margin


def run_all(c, P32, image32, text, steps, dtype, grads=True):
    """Forward, backward and greedy decoding; returns {io name: float32/int64 tensor}, margin."""
    P = {k: v.detach().to(dtype).requires_grad_(grads) for k, v in P32.items()}
    image = image32.to(dtype)
    out = forward(c, P, image, text, dtype)
    res = {"input.image": image32, "input.text": text}
    if grads:
        names = list(P)
        gs = torch.autograd.grad(out["loss.total"].sum(), [P[n] for n in names])
        for n, g in zip(names, gs):
            res["grad." + n] = g.reshape(P32[n].shape)
    with torch.no_grad():
        Pd = {k: v.detach() for k, v in P.items()}
        tokens, margin = greedy(c, Pd, image, steps, dtype)
    res.update(out)
    res["output.greedy_tokens"] = tokens
    fixed = {}
    for k, v in res.items():
        v = v.detach()
        fixed[k] = v if v.dtype == torch.int64 else v.to(torch.float32)
    return fixed, margin


# ---------------------------------------------------------------------------
# Inputs, comparison, CLI


def make_inputs(c, batch, seed, text_len=0, pad_all=False):
    """Seeded inputs: image ~ N(0,1) (already 'normalized'), text with ids in [1, V) and
    trailing pad 0 on some rows (row 0 unpadded, row 1 with the most padding). pad_all:
    every row ends in at least 3 pads (row 0 keeps L // 3 ids), so that no position
    past the batch's last id + 1 is read."""
    g = torch.Generator().manual_seed(seed)
    S = c["vision"]["image_size"]
    L = text_len or c["text"]["context_length"]
    V = c["text"]["vocab_size"]
    image = torch.randn(batch, 3, S, S, generator=g, dtype=torch.float32)
    text = torch.randint(1, V, (batch, L), generator=g, dtype=torch.int64)
    for b in range(1, batch):
        if b == 1:
            n = max(2, L // 2)  # keep at least 2 real tokens
            keep = L - n if L - n >= 2 else 2
        else:
            keep = int(torch.randint(2, L + 1, (1,), generator=g))
        if pad_all:
            keep = min(keep, L - 3)
        text[b, keep:] = PAD_ID
    if pad_all:
        text[0, max(2, L // 3):] = PAD_ID
    return image, text


def compare(ref, got, text):
    """Per-tensor comparison with the fixture tolerances. Returns list of (name, metric, value, ok)."""
    rows = []
    valid_tok = text != PAD_ID
    for name in sorted(ref):
        if name not in got:
            rows.append((name, "missing", float("nan"), False))
            continue
        r, g = ref[name], got[name]
        if tuple(r.shape) != tuple(g.shape) and not (r.numel() == 1 and g.numel() == 1):
            rows.append((name, "shape %s vs %s" % (tuple(g.shape), tuple(r.shape)), float("nan"), False))
            continue
        g = g.reshape(r.shape)
        if r.dtype == torch.int64:
            d = int((r != g).sum())
            rows.append((name, "mismatches", d, d == 0))
            continue
        r64, g64 = r.double(), g.double()
        if name.startswith("grad."):
            nr = float(r64.norm())
            v = float((g64 - r64).norm()) / nr if nr > 0 else float((g64 - r64).norm())
            rows.append((name, "rel_norm", v, v <= TOL_GRAD))
        elif name.startswith("loss.") or name == "output.logit_scale":
            v = float(((g64 - r64).abs() / r64.abs().clamp_min(1e-30)).max())
            rows.append((name, "rel", v, v <= TOL_LOSS))
        else:
            diff = (g64 - r64).abs()
            if name == "output.logits":
                diff = diff[(text[:, 1:] != PAD_ID)]
            elif name == "output.text_tokens":
                diff = diff[valid_tok]
            v = float(diff.max()) if diff.numel() else 0.0
            rows.append((name, "max_abs", v, v <= TOL_ABS))
    for name in sorted(set(got) - set(ref)):
        rows.append((name, "not in reference", float("nan"), False))
    return rows


def print_rows(rows, quiet_pass=False):
    bad = 0
    for name, metric, v, ok in rows:
        if not ok:
            bad += 1
        if ok and quiet_pass:
            continue
        vs = "%d" % v if isinstance(v, int) else "%.3e" % v
        print("%-4s %-62s %-10s %s" % ("PASS" if ok else "FAIL", name, metric, vs))
    return bad


def worst_of(rows):
    worst = {}
    for _, metric, v, _ in rows:
        if isinstance(v, float) and v == v:
            worst[metric] = max(worst.get(metric, 0.0), v)
    return ", ".join("%s %.2e" % kv for kv in sorted(worst.items()))


def cmd_check(args):
    d = args.check
    c = load_config(os.path.join(d, "config.json"))
    P, _ = safetensors_io.load(os.path.join(d, "weights.safetensors"))
    check_params(c, P, os.path.join(d, "weights.safetensors"))
    io, _ = safetensors_io.load(os.path.join(d, "io.safetensors"))
    steps = io["output.greedy_tokens"].shape[1] - 1
    dtype = getattr(torch, args.dtype)
    got, margin = run_all(c, P, io["input.image"], io["input.text"], steps, dtype)
    rows = compare(io, got, io["input.text"])
    bad = print_rows(rows)
    print("summary %s: %d tensors, %d FAIL, worst %s, greedy min top-2 margin %.3e (compute %s)"
          % (d, len(rows), bad, worst_of(rows), margin, args.dtype))
    return 1 if bad else 0


def cmd_generate(args):
    c = load_config(args.config)
    if args.weights:
        P, _ = safetensors_io.load(args.weights)
        check_params(c, P, args.weights)
    else:
        P = init_params(c, args.init_seed)
    steps = args.greedy_steps
    if 1 + steps > c["text"]["context_length"]:
        raise ConfigError("--greedy-steps %d: 1+n exceeds text context_length %d" % (steps, c["text"]["context_length"]))
    dtype = getattr(torch, args.dtype)
    if args.text_len < 0 or args.text_len > c["text"]["context_length"] or 0 < args.text_len < 3:
        raise ConfigError("--text-len %d: want 3..%d (0 = context_length)" % (args.text_len, c["text"]["context_length"]))
    image, text = make_inputs(c, args.batch, args.data_seed, args.text_len, args.pad_all)
    res, margin = run_all(c, P, image, text, steps, dtype)
    print("greedy min top-2 logit margin %.3e" % margin)
    if (res["output.greedy_tokens"][:, 1:] == PAD_ID).any():
        print("warning: greedy tokens contain pad id 0", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    shutil.copyfile(args.config, os.path.join(args.out, "config.json"))
    meta = {"format": "pt", "source": "gococa golden/pytorch/coca_ref.py"}
    safetensors_io.save(os.path.join(args.out, "weights.safetensors"), P, meta)
    safetensors_io.save(os.path.join(args.out, "io.safetensors"), res,
                        {"source": "gococa golden/pytorch/coca_ref.py", "compute_dtype": args.dtype})
    print("wrote %s" % args.out)
    if args.verify:
        return verify(c, P, res, steps, margin, dtype)
    return 0


def verify(c, P, res, steps, margin, dtype):
    """Independent paths: float32 compute must meet the fixture tolerances against the stored
    (float64-computed) values, and each batch row run alone must reproduce its per-row outputs."""
    bad = 0
    image, text = res["input.image"], res["input.text"]
    other = torch.float32 if dtype == torch.float64 else torch.float64
    got, _ = run_all(c, P, image, text, steps, other)
    rows = compare(res, got, text)
    n = print_rows(rows, quiet_pass=True)
    print("verify: %s compute vs stored: %d FAIL of %d, worst %s" % (other, n, len(rows), worst_of(rows)))
    bad += n
    per_row = ["output.image_features", "output.text_features", "output.image_features_unnormalized",
               "output.text_features_unnormalized", "output.image_embs", "output.text_tokens",
               "output.logits", "output.labels", "output.greedy_tokens"]
    for b in range(image.shape[0]):
        one, _ = run_all(c, P, image[b : b + 1], text[b : b + 1], steps, dtype, grads=False)
        ref = {k: res[k][b : b + 1] for k in per_row}
        rows = compare(ref, {k: one[k] for k in per_row}, text[b : b + 1])
        n = print_rows(rows, quiet_pass=True)
        bad += n
    print("verify: per-row recompute: %s" % ("FAIL" if bad else "PASS"))
    if margin < 1e-3:
        print("verify: greedy margin %.3e below 1e-3: argmax could flip in float32" % margin)
        bad += 1
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", metavar="DIR", help="recompute a fixture dir and compare")
    ap.add_argument("--config", help="open_clip model-config JSON")
    ap.add_argument("--weights", help="weights.safetensors (open_clip state_dict names)")
    ap.add_argument("--init-seed", type=int, default=0, help="seed of the random init when no --weights")
    ap.add_argument("--data-seed", type=int, default=1234, help="seed of the random inputs")
    ap.add_argument("--out", help="output fixture dir")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--text-len", type=int, default=0, help="input text length L (default context_length)")
    ap.add_argument("--pad-all", action="store_true", help="pad every text row (see make_inputs)")
    ap.add_argument("--greedy-steps", type=int, default=8)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64", help="compute dtype")
    ap.add_argument("--verify", action="store_true", help="after writing, cross-check through independent paths")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    try:
        if args.check:
            return cmd_check(args)
        if not args.config or not args.out:
            ap.error("--config and --out are required (or --check DIR)")
        if args.batch < 2:
            ap.error("--batch must be at least 2 (contrastive loss)")
        return cmd_generate(args)
    except (ConfigError, OSError, KeyError, json.JSONDecodeError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
