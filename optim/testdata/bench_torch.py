#!/usr/bin/python3
"""PyTorch peer of optim's BenchmarkStep: one optimizer step over the same
CoCa-like parameter list (12 blocks of width 224 and logit_scale, 7.26 M
parameters), one thread, reporting process CPU time and wall time per
parameter. Run with Debian's python3-torch:

    /usr/bin/python3 optim/testdata/bench_torch.py

and compare with

    GOMAXPROCS=1 go test -run XXX -bench BenchmarkStep ./optim
"""

import time

import torch

torch.set_num_threads(1)
W, L = 224, 12
shapes = []
for _ in range(L):
    shapes += [(W,), (W,), (3 * W, W), (3 * W,), (W, W), (W,), (W,), (W,), (4 * W, W), (4 * W,), (W, 4 * W), (W,)]
shapes.append(())
ps = [torch.nn.Parameter(torch.randn(s) * 0.1) for s in shapes]
for p in ps:
    p.grad = torch.randn(p.shape)
n = sum(p.numel() for p in ps)
runs = [
    ("adamw", torch.optim.AdamW(ps, lr=1e-6)),
    ("adamw_foreach", torch.optim.AdamW(ps, lr=1e-6, foreach=True)),
    ("sgd", torch.optim.SGD(ps, lr=1e-6, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("sgd_plain", torch.optim.SGD(ps, lr=1e-6, weight_decay=1e-2)),
]
for name, opt in runs:
    opt.step()
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(20):
        opt.step()
    c1, w1 = time.process_time(), time.perf_counter()
    print(f"torch {name:13s} params={n} cpu {(c1 - c0) / 20 / n * 1e9:.2f} ns/param  wall {(w1 - w0) / 20 / n * 1e9:.2f} ns/param")
