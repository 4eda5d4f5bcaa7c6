"""Minimal safetensors reader and writer (no dependency on the safetensors package).

Format: 8-byte little-endian header length N, then N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
padded with spaces to a multiple of 8, then the raw little-endian tensor data.

The writer lists header keys sorted by name and lays the data out by descending
element size, then name, so every tensor starts at an offset that is a multiple of
its element size (8-byte types first, then 4-byte ones).
"""

import json
import struct

import numpy as np
import torch

_NP = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_TAG = {v: k for k, v in _NP.items()}


def load(path):
    """Returns {name: torch.Tensor} (copies) and the metadata dict."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("%s: file too short for a safetensors header" % path)
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError("%s: header length %d past end of file" % (path, n))
    header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    meta = header.pop("__metadata__", {}) or {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _NP:
            raise ValueError("%s: tensor %s: unsupported dtype %s" % (path, name, dt))
        b, e = info["data_offsets"]
        arr = np.frombuffer(buf[base + b : base + e], dtype=_NP[dt]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True))
    return out, meta


def save(path, tensors, metadata=None):
    """Writes {name: torch.Tensor or np.ndarray} to path."""
    arrays = {}
    for name, t in tensors.items():
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        # np.array keeps 0-d shapes (np.ascontiguousarray would make them 1-d)
        a = np.array(a, dtype=a.dtype.newbyteorder("<"), order="C", copy=True)
        if a.dtype not in _TAG:
            raise ValueError("tensor %s: unsupported dtype %s" % (name, a.dtype))
        arrays[name] = a
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    offsets = {}
    pos = 0
    for name in order:
        nb = arrays[name].nbytes
        offsets[name] = (pos, pos + nb)
        pos += nb
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(arrays):
        a = arrays[name]
        header[name] = {
            "dtype": _TAG[a.dtype],
            "shape": list(a.shape),
            "data_offsets": list(offsets[name]),
        }
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name in order:
            f.write(arrays[name].tobytes())
