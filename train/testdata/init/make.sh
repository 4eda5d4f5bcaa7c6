#!/bin/sh
# Regenerates the --init fixture of package train: a coca_tiny model trained
# by coca train (8 learnt BPE merges, so its vocabulary is 522 tokens), saved
# by PyTorch's torch.save as open_clip saves its checkpoints, in float16
# (open_clip_pytorch_model.bin of the published CoCa models is a torch.save
# state dict too). Run from the repository root; needs python3 with torch
# (Debian's python3-torch) and numpy.
set -e
out=$(mktemp -d)
go run ./cmd/coca train --config coca_tiny --merges 8 --steps 30 --batch 16 --eval-every 0 --out "$out/run"
cp "$out/run/config.json" "$out/run/tokenizer.txt" train/testdata/init/
PYTHONPATH=golden/pytorch /usr/bin/python3 - "$out/run/model.safetensors" train/testdata/init/model.bin <<'PY'
import sys, torch, safetensors_io
tensors, _ = safetensors_io.load(sys.argv[1])
torch.save({k: v.to(torch.float16) for k, v in tensors.items()}, sys.argv[2])
PY
rm -rf "$out"
