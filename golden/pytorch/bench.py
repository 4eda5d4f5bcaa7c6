#!/usr/bin/python3
"""PyTorch CPU timings of CoCa workloads, for gococa's comparison scripts.

Builds the model of --config (default configs/coca_ViT-B-32.json) with the graph of
coca_ref.py (float32, random init, seed 0) and times, with torch.set_num_threads(N):

  train_step    forward of both towers and the decoder, contrastive + caption loss,
                backward, AdamW update (lr 1e-5, weight decay 0.1), logit_scale clamp to
                [0, ln 100]; batch --batch, text length = context_length. With
                --no-optimizer: forward, losses and backward only (gradients set to None
                before each step), what gococa's BenchmarkTrainStep times
  encode_image  image tower + normalize under no_grad; batch --batch
  encode_text   text tower (with CLS) + normalize under no_grad; batch --batch
  caption       uncached greedy captioning under no_grad: encode the image once, then
                --caption-steps steps that each rerun the text tower and the decoder on
                the whole prefix (start token sot 49406 clipped to the vocab, no eot stop)
                and append the argmax; batch --caption-batch

Each workload runs --warmup untimed iterations, then --repeat timed ones, and prints one
JSON line: {"workload", "seconds" (median per iteration), "min", "mean", "repeat",
"batch", "threads", "config", "impl": "pytorch", "torch", "max_rss_bytes" (the process's
peak resident set so far)}. Nothing else goes to stdout.

--threads N also sets OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS (unless
already set) before torch is imported, so the BLAS pool uses N threads as well.

Usage (from the repository root; takes minutes and ~6 GB for coca_ViT-B-32 training):
  /usr/bin/python3 golden/pytorch/bench.py --threads 2 [--workloads train_step,caption]
      [--batch 8] [--repeat 3] [--warmup 1] [--caption-steps 20] [--caption-batch 1]
      [--no-optimizer]
      [--config golden/pytorch/configs/coca_ViT-B-32.json]
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time


def _threads_from_argv():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return None


# torch.set_num_threads does not reach the BLAS library's own thread pool (Debian's
# torch calls OpenBLAS): pin it too, before torch is imported.
_n = _threads_from_argv()
if _n:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, _n)

import torch  # noqa: E402
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coca_ref  # noqa: E402

WORKLOADS = ("train_step", "encode_image", "encode_text", "caption")
SOT = 49406


def timed(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return ts


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(here, "configs", "coca_ViT-B-32.json"))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--caption-batch", type=int, default=1)
    ap.add_argument("--caption-steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--no-optimizer", action="store_true",
                    help="train_step without the AdamW update (forward, losses, backward)")
    args = ap.parse_args()
    wl = [w for w in args.workloads.split(",") if w]
    for w in wl:
        if w not in WORKLOADS:
            ap.error("unknown workload %r (want %s)" % (w, ", ".join(WORKLOADS)))
    if args.batch < 2 and "train_step" in wl:
        ap.error("--batch must be at least 2 for train_step (contrastive loss)")
    torch.set_num_threads(args.threads)

    c = coca_ref.load_config(args.config)
    name = os.path.splitext(os.path.basename(args.config))[0]
    if name == "config":  # a fixture dir's config.json: name it after the dir
        name = os.path.basename(os.path.dirname(os.path.abspath(args.config)))
    P = coca_ref.init_params(c, 0)
    dt = torch.float32
    image, text = coca_ref.make_inputs(c, args.batch, 1234)
    V = c["text"]["vocab_size"]
    ctx = c["text"]["context_length"]
    if "caption" in wl and 1 + args.caption_steps > ctx:
        ap.error("--caption-steps %d: 1+n exceeds context_length %d" % (args.caption_steps, ctx))

    def report(workload, ts, batch):
        print(json.dumps({
            "workload": workload, "seconds": statistics.median(ts), "min": min(ts),
            "mean": statistics.fmean(ts), "repeat": len(ts), "batch": batch,
            "threads": args.threads, "config": name, "impl": "pytorch", "torch": torch.__version__,
            "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }), flush=True)

    for w in wl:
        if w == "train_step":
            Pt = {k: v.clone().requires_grad_(True) for k, v in P.items()}
            opt = torch.optim.AdamW(list(Pt.values()), lr=1e-5, weight_decay=0.1)

            def step():
                out = coca_ref.forward(c, Pt, image, text, dt)
                opt.zero_grad(set_to_none=True)
                out["loss.total"].sum().backward()
                if args.no_optimizer:
                    return
                opt.step()
                with torch.no_grad():
                    Pt["logit_scale"].clamp_(0, math.log(100))

            report(w, timed(step, args.warmup, args.repeat), args.batch)
            del Pt, opt
        elif w == "encode_image":
            def enc_img():
                with torch.no_grad():
                    lat, _ = coca_ref.encode_image(c, P, image)
                    F.normalize(lat, dim=-1)

            report(w, timed(enc_img, args.warmup, args.repeat), args.batch)
        elif w == "encode_text":
            def enc_txt():
                with torch.no_grad():
                    lat, _ = coca_ref.encode_text(c, P, text, dt)
                    F.normalize(lat, dim=-1)

            report(w, timed(enc_txt, args.warmup, args.repeat), args.batch)
        elif w == "caption":
            img = image[: args.caption_batch]
            if img.shape[0] < args.caption_batch:
                img = image[:1].expand(args.caption_batch, -1, -1, -1).contiguous()

            def caption():
                with torch.no_grad():
                    _, embs = coca_ref.encode_image(c, P, img)
                    toks = torch.full((img.shape[0], 1), min(SOT, V - 1), dtype=torch.int64)
                    for _ in range(args.caption_steps):
                        _, te = coca_ref.encode_text(c, P, toks, dt)
                        logits = coca_ref.decode(c, P, embs, te, dt)[:, -1]
                        toks = torch.cat([toks, logits.argmax(-1, keepdim=True)], dim=1)

            report(w, timed(caption, args.warmup, args.repeat), args.caption_batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
