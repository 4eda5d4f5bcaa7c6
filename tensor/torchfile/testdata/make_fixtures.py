#!/usr/bin/python3
"""Writes the torch.save fixtures that tensor/torchfile's tests read.

Run from this directory with Debian's interpreter (python3-torch 1.13):

    /usr/bin/python3 make_fixtures.py

Inputs: ../../safetensors/testdata/tiny_weights.safetensors (open_clip's tiny CoCa
state_dict, float32, copied from the golden fixtures).

Outputs (all written by torch.save with its default zip format):
  tiny_f32.bin    the state_dict as is (an OrderedDict of float32 tensors)
  tiny_f16.bin    the same with every tensor converted by .half()
  tiny_bf16.bin   the same with every tensor converted by .bfloat16()
  tiny_ckpt.pt    an open_clip training checkpoint: {"epoch", "name", "state_dict"
                  with "module."-prefixed names, "optimizer": AdamW state after one
                  step over two parameters}
  views.bin       tensors saved as views of larger storages: transposed, sliced with
                  an offset and steps, expanded (stride 0), two views sharing one
                  storage, a 0-d tensor, bfloat16, float16, float64, int64, bool, and
                  a transposed nn.Parameter, and round_src (float32 edge cases
                  and random values) with torch's round_f16 and round_bf16 of it
  views_p1.bin, views_p4.bin
                  views.bin written with pickle protocols 1 and 4 (default is 2)
  views_expected.safetensors
                  torch's own .contiguous() copy of every tensor in views.bin (bf16
                  and f16 stored as such), written by the small writer below
"""
import collections
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "safetensors", "testdata", "tiny_weights.safetensors")

DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F64": torch.float64,
    "I64": torch.int64,
    "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    out = collections.OrderedDict()
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        raw = bytearray(blob[base + b : base + e])
        t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]) if e > b else torch.empty(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, chunks, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dim() > 0 else t.reshape(1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def main():
    torch.manual_seed(0)
    sd = read_safetensors(SRC)
    # A module's state_dict() carries per-module versions in _metadata; pickling
    # it adds a BUILD of the OrderedDict's attributes.
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("visual", {"version": 1})])
    torch.save(sd, os.path.join(HERE, "tiny_f32.bin"))
    torch.save(collections.OrderedDict((k, v.half()) for k, v in sd.items()), os.path.join(HERE, "tiny_f16.bin"))
    torch.save(collections.OrderedDict((k, v.bfloat16()) for k, v in sd.items()), os.path.join(HERE, "tiny_bf16.bin"))

    # Training checkpoint as open_clip's main.py writes it under DistributedDataParallel.
    p0 = torch.nn.Parameter(sd["logit_scale"].clone())
    p1 = torch.nn.Parameter(sd["text.cls_emb"].clone())
    opt = torch.optim.AdamW([p0, p1], lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2)
    (p0 * 2 + p1.sum()).backward()
    opt.step()
    ddp_sd = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    ddp_sd._metadata = collections.OrderedDict([("module", {"version": 1})])
    ckpt = {
        "epoch": 1,
        "name": "tiny",
        "state_dict": ddp_sd,
        "optimizer": opt.state_dict(),
    }
    torch.save(ckpt, os.path.join(HERE, "tiny_ckpt.pt"))

    base = torch.arange(60, dtype=torch.float32).reshape(6, 10) * 0.5 - 7.0
    shared = torch.randn(4, 6)
    views = collections.OrderedDict()
    views["transposed"] = base.t()
    views["sliced"] = base[1:5, 2:9:3]
    views["permuted"] = base.reshape(3, 2, 10).permute(2, 0, 1)
    views["expanded"] = torch.arange(3, dtype=torch.float32).expand(4, 3)
    views["shared_a"] = shared[1:3]
    views["shared_b"] = shared.t()[2:]
    views["scalar"] = torch.tensor(3.25)
    views["empty"] = torch.zeros(0, 4)
    views["bf16"] = torch.randn(5, 3).to(torch.bfloat16).t()
    views["f16"] = torch.randn(2, 7).half()[:, 1:6]
    views["f64"] = torch.randn(3, 3, dtype=torch.float64).t()
    views["i64"] = torch.arange(-6, 18, dtype=torch.int64).reshape(4, 6)[::2, 1:]
    views["bool"] = torch.tensor([True, False, True, True])
    # An nn.Parameter pickles through torch._utils._rebuild_parameter.
    views["param"] = torch.nn.Parameter(torch.randn(3, 2).t())
    # Rounding checks: float32 values (random magnitudes, exact ties, overflow and
    # subnormal edges) with torch's float16 and bfloat16 conversions of them.
    edges = [1 + 2.0**-11, 1 + 3 * 2.0**-11, 2.0**-25, 3 * 2.0**-25, 2.0**-26, 1023.5 * 2.0**-24,
             65504.0, 65519.0, 65520.0, 70000.0, -65520.0, 1e-8, -0.0, 0.0]
    bits = np.array([0x3F808000, 0x3F818000, 0x7F7FFFFF, 0x00000001, 0x807FFFFF, 0x477FF000], dtype=np.uint32)
    src = torch.cat([torch.tensor(edges, dtype=torch.float32), torch.from_numpy(bits.view(np.float32)),
                     torch.randn(200) * torch.exp2(torch.randint(-30, 20, (200,)).float())])
    views["round_src"] = src
    views["round_f16"] = src.half()
    views["round_bf16"] = src.bfloat16()
    torch.save(views, os.path.join(HERE, "views.bin"))
    # The same under other pickle protocols: 1 (INT for bools, no PROTO) and 4
    # (FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL).
    torch.save(views, os.path.join(HERE, "views_p1.bin"), pickle_protocol=1)
    torch.save(views, os.path.join(HERE, "views_p4.bin"), pickle_protocol=4)
    write_safetensors(os.path.join(HERE, "views_expected.safetensors"), {k: v.detach().contiguous() for k, v in views.items()})


if __name__ == "__main__":
    main()
