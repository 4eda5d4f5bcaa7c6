#!/usr/bin/python3
"""Writes golden/testdata/ops.safetensors: op-level references for gococa's tensor package.

Run from the repository root with Debian's python3-torch:
  /usr/bin/python3 golden/pytorch/make_ops.py [--out golden/testdata/ops.safetensors]

Every input is float32 (int64 for targets), drawn from torch.manual_seed(SEED) in the
order below, so the file is reproducible. Every output and gradient is computed by
PyTorch in float64 from the float32 inputs (upcast exactly) and stored rounded to
float32: the stored values are the correctly rounded results, not a float32 PyTorch
run's rounding. Gradients are d(sum(y * dy))/d(input) for the stored upstream `<op>.dy`
(vector-Jacobian products), computed with torch.autograd.

Names (shapes):
  softmax.x [3,5,7] (x[0] has some -inf entries, no all -inf row) -> softmax.y (last axis)
  softmax.dy -> softmax.dx
  softmax.x_masked [4,6] (row 1 all -inf except one entry) -> softmax.y_masked
  softmax.dy_masked -> softmax.dx_masked
  log_softmax.x [3,5,7] -> log_softmax.y; log_softmax.dy -> log_softmax.dx
  layernorm.x [4,6,10], layernorm.weight [10], layernorm.bias [10] -> layernorm.y (eps 1e-5),
    layernorm.y_eps1e-6 (eps 1e-6); layernorm.dy -> layernorm.dx, layernorm.dweight,
    layernorm.dbias (eps 1e-5)
  gelu.x [257] = linspace(-6, 6) -> gelu.y (erf form), quick_gelu.y (x*sigmoid(1.702x)),
    gelu_tanh.y (approximate='tanh'), sigmoid.y, exp.y; for each op P of these five,
    P.dy [257] -> P.dx (input is gelu.x for all of them)
  attn.q [2,3,5,8] (B,H,Lq,D), attn.k, attn.v [2,3,7,8], attn.mask [2,5,7] additive
    (0 or -inf, per batch, broadcast over heads; every row has at least one -inf and at
    least one 0) -> attn.y_mask = softmax(q k^T / sqrt(D) + mask[b]) v, attn.y_nomask
    attn.dy [2,3,5,8] -> attn.dq, attn.dk, attn.dv (of y_mask),
                         attn.dq_nomask, attn.dk_nomask, attn.dv_nomask (of y_nomask)
  attn_causal.q/k/v [2,3,6,8] -> attn_causal.y (key j > query i masked);
    attn_causal.dy -> attn_causal.dq, attn_causal.dk, attn_causal.dv
  ce.logits [10,13], ce.target [10] int64 (3 entries are 0) ->
    ce.loss: shape [] (scalar), cross-entropy with ignore_index=0, mean over the 7
    non-ignored rows; ce.dlogits [10,13] = d ce.loss / d logits (upstream 1; zero rows
    where target is 0);
    ce.loss_noignore: shape [], ignore_index=-100 (0 is an ordinary class), mean over 10;
    ce.dlogits_noignore
  normalize.x [5,9] (row 2 all zeros) -> normalize.y = F.normalize(x, dim=-1, eps=1e-12)
    = x / max(||x||, eps); normalize.dy -> normalize.dx. For the zero row PyTorch's
    gradient is dy / eps (the clamp is active, so the norm gets no gradient): values
    around 1e12, kept as PyTorch computes them.
"""

import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

SEED = 20260101


def f64(x):
    return x.detach().to(torch.float64).requires_grad_(True)


def vjp(y, inputs, dy):
    return torch.autograd.grad(y, inputs, grad_outputs=dy.to(torch.float64))


def attention(q, k, v, mask=None):
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s + mask
    return torch.softmax(s, dim=-1) @ v


def build():
    torch.manual_seed(SEED)
    T = {}
    ninf = float("-inf")

    # softmax
    x = torch.randn(3, 5, 7) * 2
    x[0, 0, 1] = ninf
    x[0, 0, 4] = ninf
    x[0, 2, 0] = ninf
    x[0, 3, 6] = ninf
    x[0, 4, :6] = ninf  # one finite entry left
    dy = torch.randn(3, 5, 7)
    xd = f64(x)
    y = torch.softmax(xd, dim=-1)
    (dx,) = vjp(y, [xd], dy)
    T.update({"softmax.x": x, "softmax.y": y, "softmax.dy": dy, "softmax.dx": dx})

    xm = torch.randn(4, 6) * 3
    xm[1, :] = ninf
    xm[1, 3] = 0.5
    xm[2, 0] = ninf
    dym = torch.randn(4, 6)
    xd = f64(xm)
    y = torch.softmax(xd, dim=-1)
    (dx,) = vjp(y, [xd], dym)
    T.update({"softmax.x_masked": xm, "softmax.y_masked": y, "softmax.dy_masked": dym, "softmax.dx_masked": dx})

    # log_softmax
    x = torch.randn(3, 5, 7) * 3
    dy = torch.randn(3, 5, 7)
    xd = f64(x)
    y = torch.log_softmax(xd, dim=-1)
    (dx,) = vjp(y, [xd], dy)
    T.update({"log_softmax.x": x, "log_softmax.y": y, "log_softmax.dy": dy, "log_softmax.dx": dx})

    # layernorm
    x = torch.randn(4, 6, 10) * 1.5 + 0.7
    w = 1 + 0.3 * torch.randn(10)
    b = 0.2 * torch.randn(10)
    dy = torch.randn(4, 6, 10)
    xd, wd, bd = f64(x), f64(w), f64(b)
    y = F.layer_norm(xd, (10,), wd, bd, 1e-5)
    dx, dw, db = vjp(y, [xd, wd, bd], dy)
    y6 = F.layer_norm(xd, (10,), wd, bd, 1e-6)
    T.update({
        "layernorm.x": x, "layernorm.weight": w, "layernorm.bias": b, "layernorm.y": y,
        "layernorm.y_eps1e-6": y6, "layernorm.dy": dy, "layernorm.dx": dx,
        "layernorm.dweight": dw, "layernorm.dbias": db,
    })

    # pointwise
    x = torch.linspace(-6, 6, 257, dtype=torch.float32)
    T["gelu.x"] = x
    fns = {
        "gelu": lambda t: F.gelu(t),
        "quick_gelu": lambda t: t * torch.sigmoid(1.702 * t),
        "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
        "sigmoid": torch.sigmoid,
        "exp": torch.exp,
    }
    for name, fn in fns.items():
        dy = torch.randn(257)
        xd = f64(x)
        y = fn(xd)
        (dx,) = vjp(y, [xd], dy)
        T.update({name + ".y": y, name + ".dy": dy, name + ".dx": dx})

    # attention
    q = torch.randn(2, 3, 5, 8)
    k = torch.randn(2, 3, 7, 8)
    v = torch.randn(2, 3, 7, 8)
    mask = torch.zeros(2, 5, 7)
    keep = torch.rand(2, 5, 7) < 0.6
    for bi in range(2):
        for i in range(5):
            on = int(torch.randint(0, 7, (1,)))
            off = (on + 1 + int(torch.randint(0, 6, (1,)))) % 7
            keep[bi, i, on] = True  # at least one visible key
            keep[bi, i, off] = False  # at least one masked key
    mask.masked_fill_(~keep, ninf)
    assert (mask == ninf).any(dim=-1).all() and (mask == 0).any(dim=-1).all()
    dy = torch.randn(2, 3, 5, 8)
    qd, kd, vd = f64(q), f64(k), f64(v)
    y = attention(qd, kd, vd, mask.to(torch.float64).unsqueeze(1))
    dq, dk, dv = vjp(y, [qd, kd, vd], dy)
    qd2, kd2, vd2 = f64(q), f64(k), f64(v)
    y2 = attention(qd2, kd2, vd2)
    dq2, dk2, dv2 = vjp(y2, [qd2, kd2, vd2], dy)
    T.update({
        "attn.q": q, "attn.k": k, "attn.v": v, "attn.mask": mask, "attn.y_mask": y,
        "attn.y_nomask": y2, "attn.dy": dy, "attn.dq": dq, "attn.dk": dk, "attn.dv": dv,
        "attn.dq_nomask": dq2, "attn.dk_nomask": dk2, "attn.dv_nomask": dv2,
    })

    q = torch.randn(2, 3, 6, 8)
    k = torch.randn(2, 3, 6, 8)
    v = torch.randn(2, 3, 6, 8)
    dy = torch.randn(2, 3, 6, 8)
    causal = torch.full((6, 6), ninf, dtype=torch.float64).triu(1)
    qd, kd, vd = f64(q), f64(k), f64(v)
    y = attention(qd, kd, vd, causal)
    dq, dk, dv = vjp(y, [qd, kd, vd], dy)
    T.update({
        "attn_causal.q": q, "attn_causal.k": k, "attn_causal.v": v, "attn_causal.y": y,
        "attn_causal.dy": dy, "attn_causal.dq": dq, "attn_causal.dk": dk, "attn_causal.dv": dv,
    })

    # cross-entropy
    logits = torch.randn(10, 13) * 2
    target = torch.randint(1, 13, (10,), dtype=torch.int64)
    target[torch.tensor([2, 5, 9])] = 0
    ld = f64(logits)
    loss = F.cross_entropy(ld, target, ignore_index=0)
    (dl,) = torch.autograd.grad(loss, [ld])
    ld2 = f64(logits)
    loss2 = F.cross_entropy(ld2, target)
    (dl2,) = torch.autograd.grad(loss2, [ld2])
    T.update({
        "ce.logits": logits, "ce.target": target, "ce.loss": loss.reshape(()), "ce.dlogits": dl,
        "ce.loss_noignore": loss2.reshape(()), "ce.dlogits_noignore": dl2,
    })

    # normalize
    x = torch.randn(5, 9)
    x[2] = 0
    dy = torch.randn(5, 9)
    xd = f64(x)
    y = F.normalize(xd, dim=-1, eps=1e-12)
    (dx,) = vjp(y, [xd], dy)
    T.update({"normalize.x": x, "normalize.y": y, "normalize.dy": dy, "normalize.dx": dx})

    out = {}
    for name, t in T.items():
        t = t.detach()
        out[name] = t if t.dtype == torch.int64 else t.to(torch.float32)
    return out


def main():
    ap = argparse.ArgumentParser(description="write op-level golden fixtures")
    ap.add_argument("--out", default=os.path.join("golden", "testdata", "ops.safetensors"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    T = build()
    safetensors_io.save(args.out, T, {"source": "gococa golden/pytorch/make_ops.py", "seed": SEED})
    print("wrote %s: %d tensors" % (args.out, len(T)))


if __name__ == "__main__":
    main()
