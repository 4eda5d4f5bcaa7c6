#!/usr/bin/python3
"""Independent NumPy check of golden/testdata/ops.safetensors (closed-form formulas, no torch
autograd): recomputes every forward output and the closed-form gradients from the stored
inputs and fails if any differs from the stored float32 value by more than float32 rounding.

Run from the repository root: /usr/bin/python3 golden/pytorch/check_ops.py
"""

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

RTOL = 2e-6  # stored values are float32 roundings of float64 results


def softmax(x):
    m = x.max(-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(-1, keepdims=True)


def log_softmax(x):
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def attention(q, k, v, mask):
    return softmax(q @ k.swapaxes(-1, -2) / math.sqrt(q.shape[-1]) + mask) @ v


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join("golden", "testdata", "ops.safetensors")
    raw, _ = safetensors_io.load(path)
    T = {k: (v.numpy().astype(np.float64) if v.dtype.is_floating_point else v.numpy()) for k, v in raw.items()}
    bad = 0
    checked = set()

    def check(name, got):
        nonlocal bad
        ref = T[name]
        checked.add(name)
        fin = np.isfinite(ref)
        scale = max(1.0, float(np.abs(ref[fin]).max())) if fin.any() else 1.0
        err = float(np.abs(got - ref)[fin].max()) if fin.any() else 0.0
        ok = err <= RTOL * scale and np.array_equal(np.isfinite(got), fin)
        bad += not ok
        print("%s %-24s max|diff| %.2e (scale %.3g)" % ("PASS" if ok else "FAIL", name, err, scale))

    x = T["softmax.x"]
    y = softmax(x)
    check("softmax.y", y)
    dy = T["softmax.dy"]
    check("softmax.dx", y * (dy - (dy * y).sum(-1, keepdims=True)))
    y = softmax(T["softmax.x_masked"])
    check("softmax.y_masked", y)
    dy = T["softmax.dy_masked"]
    check("softmax.dx_masked", y * (dy - (dy * y).sum(-1, keepdims=True)))

    ls = log_softmax(T["log_softmax.x"])
    check("log_softmax.y", ls)
    dy = T["log_softmax.dy"]
    check("log_softmax.dx", dy - np.exp(ls) * dy.sum(-1, keepdims=True))

    x, w, b = T["layernorm.x"], T["layernorm.weight"], T["layernorm.bias"]
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    check("layernorm.y_eps1e-6", (x - mu) / np.sqrt(var + 1e-6) * w + b)
    rstd = 1 / np.sqrt(var + 1e-5)
    xh = (x - mu) * rstd
    check("layernorm.y", xh * w + b)
    dy = T["layernorm.dy"]
    g = dy * w
    check("layernorm.dx", (g - g.mean(-1, keepdims=True) - xh * (g * xh).mean(-1, keepdims=True)) * rstd)
    check("layernorm.dweight", (dy * xh).sum((0, 1)))
    check("layernorm.dbias", dy.sum((0, 1)))

    x = T["gelu.x"]
    erf = np.vectorize(math.erf)
    cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
    pdf = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    check("gelu.y", x * cdf)
    check("gelu.dx", T["gelu.dy"] * (cdf + x * pdf))
    s = 1 / (1 + np.exp(-1.702 * x))
    check("quick_gelu.y", x * s)
    check("quick_gelu.dx", T["quick_gelu.dy"] * (s + 1.702 * x * s * (1 - s)))
    c = math.sqrt(2 / math.pi)
    u = c * (x + 0.044715 * x ** 3)
    th = np.tanh(u)
    check("gelu_tanh.y", 0.5 * x * (1 + th))
    check("gelu_tanh.dx", T["gelu_tanh.dy"] * (0.5 * (1 + th) + 0.5 * x * (1 - th ** 2) * c * (1 + 3 * 0.044715 * x ** 2)))
    sg = 1 / (1 + np.exp(-x))
    check("sigmoid.y", sg)
    check("sigmoid.dx", T["sigmoid.dy"] * sg * (1 - sg))
    check("exp.y", np.exp(x))
    check("exp.dx", T["exp.dy"] * np.exp(x))

    q, k, v = T["attn.q"], T["attn.k"], T["attn.v"]
    check("attn.y_mask", attention(q, k, v, T["attn.mask"][:, None]))
    check("attn.y_nomask", attention(q, k, v, 0.0))
    causal = np.triu(np.full((6, 6), -np.inf), 1)
    check("attn_causal.y", attention(T["attn_causal.q"], T["attn_causal.k"], T["attn_causal.v"], causal))

    cases = ((q, k, v, T["attn.mask"][:, None], "attn", ""), (q, k, v, 0.0, "attn", "_nomask"),
             (T["attn_causal.q"], T["attn_causal.k"], T["attn_causal.v"], causal, "attn_causal", ""))
    for q, k, v, mask, op, sfx in cases:
        dy = T[op + ".dy"]
        p = softmax(q @ k.swapaxes(-1, -2) / math.sqrt(q.shape[-1]) + mask)
        dp = dy @ v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(-1, keepdims=True)) / math.sqrt(q.shape[-1])
        check(op + ".dq" + sfx, ds @ k)
        check(op + ".dk" + sfx, ds.swapaxes(-1, -2) @ q)
        check(op + ".dv" + sfx, p.swapaxes(-1, -2) @ dy)

    L, t = T["ce.logits"], T["ce.target"]
    lp = log_softmax(L)
    nll = -lp[np.arange(len(t)), t]
    keep = t != 0
    check("ce.loss", np.array(nll[keep].mean()))
    check("ce.loss_noignore", np.array(nll.mean()))
    p, oh = np.exp(lp), np.eye(L.shape[1])[t]
    check("ce.dlogits", (p - oh) * keep[:, None] / keep.sum())
    check("ce.dlogits_noignore", (p - oh) / len(t))

    x = T["normalize.x"]
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    d = np.maximum(n, 1e-12)
    check("normalize.y", x / d)
    dy = T["normalize.dy"]
    # where the norm is clamped the denominator is a constant
    dx = np.where(n > 1e-12, dy / d - x * (dy * x).sum(-1, keepdims=True) / (d ** 3), dy / 1e-12)
    check("normalize.dx", dx)

    outputs = {k for k in T if not k.endswith((".x", ".dy", ".q", ".k", ".v", ".mask", ".weight", ".bias",
                                                 ".logits", ".target", ".x_masked", ".dy_masked"))}
    missing = sorted(outputs - checked)
    if missing:
        print("not checked: %s" % ", ".join(missing))
    print("%d checked, %d FAIL" % (len(checked), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
