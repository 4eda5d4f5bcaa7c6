#!/usr/bin/python3
"""Writes optim/testdata/optim_ref.safetensors: PyTorch reference runs of the
optimizers, schedules and gradient clipping that package optim implements.

Run with Debian's python3-torch (torch 1.13):

    /usr/bin/python3 optim/testdata/make_fixtures.py

Contents (all float32 unless noted):
  init.<param>               initial parameter values
  grad.<s>.<param>           gradient of step s (0..4); absent = no gradient
                             (p.grad is None) in that step
  <run>.<s>.<param>          parameter values after step s of run <run>
  adamw.norm                 [5] total gradient norm clip_grad_norm_ returned
  sched.<name>               float64 learning rates of steps 0..N-1 (the
                             parameters of each are in main() below)
The runs:
  adamw          torch.optim.AdamW, betas (0.9, 0.95), eps 1e-8, weight decay
                 0.1 on the decay group, lr from warmup+cosine (open_clip's
                 cosine_lr: base 1e-2, warmup 2, 5 steps), gradients clipped
                 to global norm 1.0 before each step
  sgd_nesterov   torch.optim.SGD, momentum 0.9, nesterov, weight decay 1e-2
                 on the decay group, lr 0.1 with 2 warmup steps (const_lr)
  sgd_dampening  torch.optim.SGD, momentum 0.8, dampening 0.25, weight decay
                 5e-2 on the decay group, lr 0.05 constant
  adafactor      the reference Adafactor below: beta1 0.9, beta2 0.999 with
                 bias correction folded into the decay, update clipping 1.0,
                 weight decay 0.01 on the decay group, eps1 1e-30, lr from
                 warmup + linear decay (base 1e-2, end 0, warmup 2, 5 steps)
  adafactor_hf   the same without first moment and with the Hugging Face /
                 fairseq beta2 schedule 1 - t^-0.8, no weight decay,
                 constant lr 3e-3
Parameter groups: the names in NO_DECAY get weight decay 0.
"""

import json
import math
import os
import struct

import numpy as np
import torch

torch.set_num_threads(1)

PARAMS = [  # name, shape
    ("visual.conv1.weight", (6, 3, 2, 2)),  # 4-D: factored with batch dims
    ("visual.proj", (5, 4)),
    ("visual.ln_post.weight", (5,)),
    ("visual.attn_pool.query", (3, 5)),
    ("text.token_embedding.weight", (7, 5)),
    ("text.cls_emb", (5,)),  # no gradient in steps 0 and 1
    ("text.transformer.resblocks.0.attn.in_proj_bias", (9,)),
    ("text_decoder.resblocks.0.mlp.c_fc.weight", (8, 5)),
    ("text_decoder.text_projection", (5, 11)),
    ("logit_scale", ()),  # 0-D scalar
]
NO_DECAY = {
    "visual.ln_post.weight",
    "visual.attn_pool.query",
    "text.token_embedding.weight",
    "text.cls_emb",
    "text.transformer.resblocks.0.attn.in_proj_bias",
    "logit_scale",
}
STEPS = 5
GRAD_SCALE = [1.0, 0.5, 3.0, 1.0, 0.2]  # varies the norm so clipping differs per step
NO_GRAD = {("text.cls_emb", 0), ("text.cls_emb", 1)}


# ---- open_clip's schedules (open_clip/training/scheduler.py), as formulas ----

def warmup_lr(base, warmup, step):
    return base * (step + 1) / warmup


def cosine_lr(base, warmup, steps, step):
    if step < warmup:
        return warmup_lr(base, warmup, step)
    e = step - warmup
    es = steps - warmup
    return 0.5 * (1 + np.cos(np.pi * e / es)) * base


def cosine_min_lr(base, lo, warmup, steps, step):
    if step < warmup:
        return warmup_lr(base, warmup, step)
    if step >= steps:
        return lo
    e = step - warmup
    es = steps - warmup
    return lo + 0.5 * (1 + math.cos(math.pi * e / es)) * (base - lo)


def linear_lr(base, end, warmup, steps, step):
    # open_clip's const_lr_cooldown with cooldown_power 1 and the cooldown
    # starting right after the warmup
    if step < warmup:
        return warmup_lr(base, warmup, step)
    if step >= steps:
        return end
    e = step - warmup
    es = steps - warmup
    return (1 - e / es) * (base - end) + end


def const_lr(base, warmup, step):
    if step < warmup:
        return warmup_lr(base, warmup, step)
    return base


# ---- reference Adafactor (Shazeer & Stern 2018, as Hugging Face/fairseq
# compute it with scale_parameter=False, relative_step=False) ----

class RefAdafactor:
    def __init__(self, params, beta1, beta2, decay_rate, eps1, clip, wd, no_decay):
        self.params = params  # dict name -> tensor
        self.beta1, self.beta2, self.decay_rate = beta1, beta2, decay_rate
        self.eps1, self.clip, self.wd, self.no_decay = eps1, clip, wd, no_decay
        self.state = {}

    def beta2t(self, t):
        if self.beta2:
            b = self.beta2
            return b * (1 - b ** (t - 1)) / (1 - b ** t)
        return 1.0 - math.pow(t, -self.decay_rate)

    @torch.no_grad()
    def step(self, lr):
        for name, p in self.params.items():
            g = p.grad
            if g is None:
                continue
            factored = p.dim() >= 2
            st = self.state.get(name)
            if st is None:
                st = {"step": 0}
                if self.beta1:
                    st["exp_avg"] = torch.zeros_like(p)
                if factored:
                    st["row"] = torch.zeros(p.shape[:-1])
                    st["col"] = torch.zeros(p.shape[:-2] + p.shape[-1:])
                else:
                    st["sq"] = torch.zeros_like(p)
                self.state[name] = st
            st["step"] += 1
            bt = self.beta2t(st["step"])
            G = g ** 2 + self.eps1
            if factored:
                row, col = st["row"], st["col"]
                row.mul_(bt).add_(G.mean(dim=-1), alpha=1.0 - bt)
                col.mul_(bt).add_(G.mean(dim=-2), alpha=1.0 - bt)
                r = (row / row.mean(dim=-1, keepdim=True)).rsqrt().unsqueeze(-1)
                c = col.unsqueeze(-2).rsqrt()
                u = torch.mul(r, c).mul_(g)
            else:
                sq = st["sq"]
                sq.mul_(bt).add_(G, alpha=1.0 - bt)
                u = sq.rsqrt().mul_(g)
            rms = u.norm(2) / (u.numel() ** 0.5)
            u.div_((rms / self.clip).clamp_(min=1.0))
            u.mul_(lr)
            if self.beta1:
                m = st["exp_avg"]
                m.mul_(self.beta1).add_(u, alpha=1 - self.beta1)
                u = m
            if self.wd != 0 and name not in self.no_decay:
                p.add_(p, alpha=-self.wd * lr)
            p.add_(-u)


# ---- safetensors writer ----

def write_safetensors(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name]
        if a.dtype == np.float64:
            dtype = "F64"
        else:
            a = a.astype(np.float32)
            dtype = "F32"
        b = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    gen = torch.Generator().manual_seed(20240601)
    init = {}
    for name, shape in PARAMS:
        v = torch.randn(shape, generator=gen) * 0.5
        if name == "logit_scale":
            v = torch.tensor(math.log(1 / 0.07))
        init[name] = v.float()
    grads = []
    for s in range(STEPS):
        gs = {}
        for name, shape in PARAMS:
            g = torch.randn(shape, generator=gen) * GRAD_SCALE[s]
            if (name, s) not in NO_GRAD:
                gs[name] = g.float()
        grads.append(gs)

    out = {}
    for name, v in init.items():
        out["init." + name] = v.numpy()
    for s, gs in enumerate(grads):
        for name, g in gs.items():
            out[f"grad.{s}.{name}"] = g.numpy()

    def fresh():
        return {name: init[name].clone().requires_grad_(True) for name, _ in PARAMS}

    def set_grads(ps, s):
        for name, p in ps.items():
            p.grad = grads[s][name].clone() if name in grads[s] else None

    def groups(ps, wd):
        return [
            {"params": [p for n, p in ps.items() if n not in NO_DECAY], "weight_decay": wd},
            {"params": [p for n, p in ps.items() if n in NO_DECAY], "weight_decay": 0.0},
        ]

    def record(run, ps, s):
        for name, p in ps.items():
            out[f"{run}.{s}.{name}"] = p.detach().numpy().copy()

    # AdamW + warmup/cosine + clipping
    ps = fresh()
    opt = torch.optim.AdamW(groups(ps, 0.1), lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    norms = []
    for s in range(STEPS):
        set_grads(ps, s)
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(ps.values()), 1.0)))
        for g in opt.param_groups:
            g["lr"] = cosine_lr(1e-2, 2, STEPS, s)
        opt.step()
        record("adamw", ps, s)
    out["adamw.norm"] = np.array(norms, dtype=np.float32)

    # SGD, Nesterov, warmup then constant
    ps = fresh()
    opt = torch.optim.SGD(groups(ps, 1e-2), lr=0.1, momentum=0.9, nesterov=True)
    for s in range(STEPS):
        set_grads(ps, s)
        for g in opt.param_groups:
            g["lr"] = const_lr(0.1, 2, s)
        opt.step()
        record("sgd_nesterov", ps, s)

    # SGD with dampening, constant lr
    ps = fresh()
    opt = torch.optim.SGD(groups(ps, 5e-2), lr=0.05, momentum=0.8, dampening=0.25)
    for s in range(STEPS):
        set_grads(ps, s)
        opt.step()
        record("sgd_dampening", ps, s)

    # Adafactor, the CoCa paper's settings, warmup + linear decay
    ps = fresh()
    opt = RefAdafactor(ps, beta1=0.9, beta2=0.999, decay_rate=None, eps1=1e-30, clip=1.0, wd=0.01, no_decay=NO_DECAY)
    for s in range(STEPS):
        set_grads(ps, s)
        opt.step(linear_lr(1e-2, 0.0, 2, STEPS, s))
        record("adafactor", ps, s)

    # Adafactor, Hugging Face's defaults (no beta1, decay_rate -0.8)
    ps = fresh()
    opt = RefAdafactor(ps, beta1=None, beta2=None, decay_rate=0.8, eps1=1e-30, clip=1.0, wd=0.0, no_decay=NO_DECAY)
    for s in range(STEPS):
        set_grads(ps, s)
        opt.step(3e-3)
        record("adafactor_hf", ps, s)

    # schedules, float64
    n = 130
    # open_clip's cosine_lr only up to its last step (past it, it rises again)
    out["sched.cosine"] = np.array([cosine_lr(3e-4, 10, 120, s) for s in range(120)], dtype=np.float64)
    out["sched.cosine_nowarmup"] = np.array([cosine_lr(1.0, 0, 50, s) for s in range(50)], dtype=np.float64)
    out["sched.cosine_min"] = np.array([cosine_min_lr(1e-3, 1e-5, 7, 100, s) for s in range(n)], dtype=np.float64)
    out["sched.linear"] = np.array([linear_lr(8e-4, 0.0, 20, 100, s) for s in range(n)], dtype=np.float64)
    out["sched.linear_end"] = np.array([linear_lr(5e-4, 1e-5, 0, 64, s) for s in range(n)], dtype=np.float64)
    out["sched.const"] = np.array([const_lr(1e-3, 13, s) for s in range(n)], dtype=np.float64)

    meta = {
        "generator": "optim/testdata/make_fixtures.py",
        "torch": torch.__version__,
        "steps": str(STEPS),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_ref.safetensors")
    write_safetensors(path, out, meta)
    print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
