#!/bin/sh
# Regenerates gococa's own CoCa fixtures in golden/testdata/ with the PyTorch reference,
# then checks every fixture (including the open_clip-written tiny/ and parallel/).
# Run from the repository root: sh golden/pytorch/make_fixtures.sh
set -e
PY=/usr/bin/python3
R=golden/pytorch/coca_ref.py
C=golden/pytorch/configs
T=golden/testdata

$PY $R --config $C/quickgelu_mlp3.json --init-seed 102 --data-seed 201 --batch 4 --greedy-steps 8 --out $T/quickgelu_mlp3 --verify
$PY $R --config $C/cascade.json --init-seed 101 --data-seed 202 --batch 3 --text-len 10 --greedy-steps 7 --out $T/cascade --verify
$PY $R --config $C/deep.json --init-seed 101 --data-seed 203 --batch 5 --greedy-steps 10 --out $T/deep --verify
$PY $R --config $C/parallel_wide.json --init-seed 102 --data-seed 204 --batch 3 --greedy-steps 6 --out $T/parallel_wide --verify
$PY $R --config $C/odd.json --init-seed 101 --data-seed 205 --batch 3 --greedy-steps 8 --out $T/odd --verify
$PY $R --config $C/cascade_quick.json --init-seed 102 --data-seed 206 --batch 3 --greedy-steps 8 --out $T/cascade_quick --verify
# every text padded: gococa's Forward computes only the positions before the padding
$PY $R --config $C/quickgelu_mlp3.json --init-seed 103 --data-seed 207 --batch 4 --pad-all --greedy-steps 8 --out $T/padded --verify

for d in tiny parallel quickgelu_mlp3 cascade deep parallel_wide odd cascade_quick padded; do
	$PY $R --check $T/$d | tail -n 1
done
