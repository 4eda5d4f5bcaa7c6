#!/usr/bin/env python3
"""Writes generate fixtures (the layout of golden/testdata/generate, read by
`coca verify --generate`) with open_clip's own CoCa.generate.

open_clip is imported from a source checkout (--open-clip DIR, the folder
holding open_clip/, e.g. open_clip-2.29.0/src); nothing of it is copied here.
transformers cannot be installed on the development machine, so this file
supplies the few generation classes open_clip imports from it, written from
Hugging Face's documented behaviour (4.4x): MinLengthLogitsProcessor,
RepetitionPenaltyLogitsProcessor, TopK/TopPLogitsWarper, MaxLengthCriteria
and BeamSearchScorer with group_index and generated_len. Running it over
golden/testdata/generate/tiny's inputs reproduces those open_clip-written rows
(--check), which is what vouches for these classes.

Images are kept only where every decision is robust: each image's rows
must stay the same, for every case, with the weights perturbed three times
(Gaussian noise of --perturb times each tensor's mean magnitude); images
are decoded alone for that test and together for the fixture.

Usage (Debian's /usr/bin/python3 with python3-torch):
  /usr/bin/python3 golden/pytorch/openclip_generate.py --open-clip /tmp/open_clip-2.29.0/src \\
      --fixture golden/testdata/parallel_wide --out golden/testdata/generate/parallel_wide
  /usr/bin/python3 golden/pytorch/openclip_generate.py --open-clip ... --check golden/testdata/generate/tiny
"""
import argparse
import json
import os
import shutil
import sys
import types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

# ---------------------------------------------------------------- transformers stand-in


class LogitsProcessorList(list):
    def __call__(self, input_ids, scores, **kwargs):
        for p in self:
            scores = p(input_ids, scores)
        return scores


def _ids(x):
    if isinstance(x, torch.Tensor):
        return x.flatten().tolist()
    if isinstance(x, int):
        return [x]
    return list(x)


class MinLengthLogitsProcessor:
    def __init__(self, min_length, eos_token_id):
        self.min_length, self.eos = min_length, _ids(eos_token_id)

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] < self.min_length:
            scores = scores.clone()
            scores[:, self.eos] = float("-inf")
        return scores


class RepetitionPenaltyLogitsProcessor:
    def __init__(self, penalty):
        self.penalty = float(penalty)

    def __call__(self, input_ids, scores):
        s = torch.gather(scores, 1, input_ids)
        s = torch.where(s < 0, s * self.penalty, s / self.penalty)
        return scores.scatter(1, input_ids, s)


class TopKLogitsWarper:
    def __init__(self, top_k, filter_value=-float("inf"), min_tokens_to_keep=1):
        self.top_k, self.filter_value = max(top_k, min_tokens_to_keep), filter_value

    def __call__(self, input_ids, scores):
        k = min(self.top_k, scores.size(-1))
        remove = scores < torch.topk(scores, k)[0][..., -1, None]
        return scores.masked_fill(remove, self.filter_value)


class TopPLogitsWarper:
    def __init__(self, top_p, filter_value=-float("inf"), min_tokens_to_keep=1):
        self.top_p, self.filter_value, self.keep = float(top_p), filter_value, min_tokens_to_keep

    def __call__(self, input_ids, scores):
        sorted_logits, sorted_idx = torch.sort(scores, descending=False)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove_sorted = cum <= (1 - self.top_p)
        remove_sorted[..., -self.keep:] = 0
        remove = remove_sorted.scatter(1, sorted_idx, remove_sorted)
        return scores.masked_fill(remove, self.filter_value)


class MaxLengthCriteria:
    def __init__(self, max_length):
        self.max_length = max_length

    def __call__(self, input_ids, scores):
        return torch.full((input_ids.shape[0],), input_ids.shape[-1] >= self.max_length, dtype=torch.bool)


class StoppingCriteriaList(list):
    def __call__(self, input_ids, scores):
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool)
        for c in self:
            done = done | c(input_ids, scores)
        return done

    @property
    def max_length(self):
        for c in self:
            if isinstance(c, MaxLengthCriteria):
                return c.max_length
        return None


class StopStringCriteria:
    pass


class EosTokenCriteria:
    pass


class BeamHypotheses:
    def __init__(self, num_beams, length_penalty):
        self.num_beams, self.length_penalty = num_beams, length_penalty
        self.beams, self.worst_score = [], 1e9

    def __len__(self):
        return len(self.beams)

    def add(self, hyp, sum_logprobs, generated_len):
        score = sum_logprobs / (generated_len ** self.length_penalty)
        if len(self) < self.num_beams or score > self.worst_score:
            self.beams.append((score, hyp))
            if len(self) > self.num_beams:
                order = sorted((s, i) for i, (s, _) in enumerate(self.beams))
                del self.beams[order[0][1]]
                self.worst_score = order[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs, cur_len):
        if len(self) < self.num_beams:
            return False
        return self.worst_score >= best_sum_logprobs / cur_len ** self.length_penalty


class BeamSearchScorer:
    def __init__(self, batch_size, num_beams, device=None, length_penalty=1.0, do_early_stopping=False,
                 num_beam_hyps_to_keep=1, num_beam_groups=1, max_length=None):
        if num_beams <= 1 or num_beams % num_beam_groups:
            raise ValueError("num_beams %d, num_beam_groups %d" % (num_beams, num_beam_groups))
        assert do_early_stopping is False and num_beam_hyps_to_keep == 1
        self.num_beams, self.num_beam_groups = num_beams, num_beam_groups
        self.group_size = num_beams // num_beam_groups
        self._beam_hyps = [BeamHypotheses(self.group_size, length_penalty) for _ in range(batch_size * num_beam_groups)]
        self._done = [False] * (batch_size * num_beam_groups)

    @property
    def is_done(self):
        return all(self._done)

    def process(self, input_ids, next_scores, next_tokens, next_indices, pad_token_id=None, eos_token_id=None,
                beam_indices=None, group_index=0, decoder_prompt_len=0):
        cur_len = input_ids.shape[-1] + 1
        batch = len(self._beam_hyps) // self.num_beam_groups
        eos = _ids(eos_token_id)
        g = self.group_size
        scores = torch.zeros((batch, g), dtype=next_scores.dtype)
        tokens = torch.zeros((batch, g), dtype=next_tokens.dtype)
        indices = torch.zeros((batch, g), dtype=next_indices.dtype)
        for b in range(batch):
            bg = b * self.num_beam_groups + group_index
            if self._done[bg]:
                tokens[b, :] = pad_token_id
                continue
            n = 0
            for rank, (tok, score, idx) in enumerate(zip(next_tokens[b], next_scores[b], next_indices[b])):
                row = b * g + idx
                if tok.item() in eos:
                    if rank >= g:
                        continue
                    self._beam_hyps[bg].add(input_ids[row].clone(), score.item(), cur_len - decoder_prompt_len)
                else:
                    scores[b, n], tokens[b, n], indices[b, n] = score, tok, row
                    n += 1
                if n == g:
                    break
            self._done[bg] = self._done[bg] or self._beam_hyps[bg].is_done(next_scores[b].max().item(),
                                                                           cur_len - decoder_prompt_len)
        return {"next_beam_scores": scores.view(-1), "next_beam_tokens": tokens.view(-1),
                "next_beam_indices": indices.view(-1)}

    def finalize(self, input_ids, final_beam_scores, final_beam_tokens, final_beam_indices, max_length,
                 pad_token_id=None, eos_token_id=None, beam_indices=None, decoder_prompt_len=0):
        batch = len(self._beam_hyps) // self.num_beam_groups
        eos = _ids(eos_token_id)
        for bg, hyps in enumerate(self._beam_hyps):
            if self._done[bg]:
                continue
            for j in range(self.group_size):
                row = bg * self.group_size + j
                hyps.add(input_ids[row], final_beam_scores[row].item(), input_ids[row].shape[-1] - decoder_prompt_len)
        best = []
        for b in range(batch):
            cands = [h for hyps in self._beam_hyps[b * self.num_beam_groups:(b + 1) * self.num_beam_groups]
                     for h in hyps.beams]
            best.append(sorted(cands, key=lambda x: x[0]).pop()[1])
        lengths = [len(h) for h in best]
        width = min(max(lengths) + 1, max_length) if max_length is not None else max(lengths) + 1
        out = torch.full((batch, width), pad_token_id, dtype=input_ids.dtype)
        for i, h in enumerate(best):
            out[i, :len(h)] = h
            if len(h) < width:
                out[i, len(h)] = eos[0]
        return {"sequences": out}


def install_stubs():
    tf = types.ModuleType("transformers")
    for cls in (LogitsProcessorList, MinLengthLogitsProcessor, RepetitionPenaltyLogitsProcessor, TopKLogitsWarper,
                TopPLogitsWarper, MaxLengthCriteria, StoppingCriteriaList, StopStringCriteria, EosTokenCriteria,
                BeamSearchScorer):
        setattr(tf, cls.__name__, cls)
    sys.modules["transformers"] = tf
    # open_clip.utils imports torchvision for FrozenBatchNorm2d (ResNet towers only).
    tv, ops, misc = (types.ModuleType(n) for n in ("torchvision", "torchvision.ops", "torchvision.ops.misc"))
    misc.FrozenBatchNorm2d = type("FrozenBatchNorm2d", (torch.nn.Module,), {})
    tv.ops, ops.misc = ops, misc
    sys.modules.update({"torchvision": tv, "torchvision.ops": ops, "torchvision.ops.misc": misc})


def import_coca(src):
    """open_clip's CoCa class, without running open_clip/__init__.py (it imports
    tokenizer and hub dependencies not needed here)."""
    install_stubs()
    pkg = types.ModuleType("open_clip")
    pkg.__path__ = [os.path.join(src, "open_clip")]
    sys.modules["open_clip"] = pkg
    import importlib
    mod = importlib.import_module("open_clip.coca_model")
    if not mod._has_transformers:
        raise SystemExit("open_clip did not take the transformers stand-in")
    return mod.CoCa


def build(CoCa, fixture_dir):
    with open(os.path.join(fixture_dir, "config.json")) as f:
        cfg = json.load(f)
    cfg.pop("custom_text", None)  # read by open_clip's factory, not by CoCa
    model = CoCa(**cfg)
    weights, _ = safetensors_io.load(os.path.join(fixture_dir, "weights.safetensors"))
    state = {k: v.float() for k, v in weights.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("attn_mask")]
    if missing or unexpected:
        raise SystemExit("%s: weights do not fit open_clip's model: missing %s, unexpected %s"
                         % (fixture_dir, missing, unexpected))
    model.eval()
    return model, cfg


def generate(model, images, kwargs):
    torch.manual_seed(0)
    with torch.no_grad():
        return model.generate(images, **kwargs)


CASES = {
    # name: (description, generate() keyword arguments beyond the common ones)
    "beam_default": ("open_clip's beam-search defaults (6 beams in 3 groups, min_seq_len 5)", {}),
    "beam_g1": ("6 beams in 1 group", {"num_beam_groups": 1}),
    "beam_b4g2_rep_fixed": ("4 beams in 2 groups, repetition_penalty 1.3, fixed_output_length",
                            {"num_beams": 4, "num_beam_groups": 2, "repetition_penalty": 1.3,
                             "fixed_output_length": True, "min_seq_len": 3}),
    "beam_g1_eosrare": ("6 beams in 1 group, an end token never chosen (finalize path)",
                        {"num_beam_groups": 1, "eos_token_id": "rare"}),
    "topk1": ("top_k 1 (greedy: the draw is certain)", {"generation_type": "top_k"}),
    "topk1_rep_fixed": ("top_k 1, repetition_penalty 1.3, fixed_output_length",
                        {"generation_type": "top_k", "repetition_penalty": 1.3, "fixed_output_length": True}),
    "topp": ("top_p 0.02, temperature 0.7: a one-token nucleus",
             {"generation_type": "top_p", "top_p": 0.02, "temperature": 0.7}),
}


def case_kwargs(cfg, extra, eos, rare):
    ctx = min(cfg["text_cfg"]["context_length"], cfg["multimodal_cfg"]["context_length"])
    kw = {"seq_len": ctx, "max_seq_len": 77, "temperature": 1.0, "top_p": 0.1, "top_k": 1, "pad_token_id": 0,
          "sot_token_id": 1, "num_beams": 6, "num_beam_groups": 3, "min_seq_len": min(5, ctx - 1),
          "repetition_penalty": 1.0, "fixed_output_length": False, "generation_type": "beam_search",
          "eos_token_id": eos}
    kw.update(extra)
    if kw["eos_token_id"] == "rare":
        kw["eos_token_id"] = rare
    return kw


def perturbed(model, seed, rel):
    import copy
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=g) * rel * p.abs().mean())
    return m


def write_fixtures(args):
    CoCa = import_coca(args.open_clip)
    model, cfg = build(CoCa, args.fixture)
    s = cfg["vision_cfg"]["image_size"]
    vocab = cfg["text_cfg"]["vocab_size"]
    g = torch.Generator().manual_seed(args.image_seed)
    cands = torch.randn(args.candidates, 3, s, s, generator=g)
    # The end token: the token greedy decoding emits most often mid-caption
    # (so that rows close on it); the rare one: a token no case ever chooses.
    greedy = generate(model, cands, case_kwargs(cfg, {"generation_type": "top_k"}, 2, 2))
    counts = torch.bincount(greedy[:, 1:-1].flatten(), minlength=vocab)
    counts[[0, 1]] = -1
    eos = int(counts.argmax())
    rare = next(t for t in range(2, vocab) if t != eos and counts[t] == 0)
    variants = [perturbed(model, seed, sign * args.perturb) for seed, sign in ((1, 1), (2, 1), (3, -1))]
    keep = []
    for i in range(args.candidates):
        one = cands[i:i + 1]
        ok = True
        for name, (_, extra) in CASES.items():
            kw = case_kwargs(cfg, extra, eos, rare)
            ref = generate(model, one, kw)
            for v in variants:
                if not torch.equal(generate(v, one, kw), ref):
                    ok = False
                    break
            if not ok:
                break
        if ok:
            keep.append(i)
        if len(keep) == args.batch:
            break
    if len(keep) < args.batch:
        raise SystemExit("only %d of %d candidate images are robust" % (len(keep), args.candidates))
    images = cands[keep]
    os.makedirs(args.out, exist_ok=True)
    shutil.copyfile(os.path.join(args.fixture, "config.json"), os.path.join(args.out, "config.json"))
    shutil.copyfile(os.path.join(args.fixture, "weights.safetensors"), os.path.join(args.out, "weights.safetensors"))
    for name, (desc, extra) in CASES.items():
        kw = case_kwargs(cfg, extra, eos, rare)
        out = generate(model, images, kw)
        rows, lengths, ended = [], [], []
        for r in out.tolist():
            n = len(r)
            while n > 1 and r[n - 1] == kw["pad_token_id"]:
                n -= 1
            rows.append(r)
            lengths.append(n)
            ended.append(int(r[n - 1] == kw["eos_token_id"]))
        safetensors_io.save(os.path.join(args.out, name + ".safetensors"), {
            "input.image": images, "output.tokens": out,
            "output.lengths": torch.tensor(lengths, dtype=torch.int64),
            "output.ended": torch.tensor(ended, dtype=torch.int64)},
            {"source": "open_clip CoCa.generate via gococa golden/pytorch/openclip_generate.py"})
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump({"case": name, "description": desc, "config": "config.json", "weights": "weights.safetensors",
                       "generate_kwargs": kw, "rows": rows, "lengths": lengths, "ended": ended,
                       "images": {"shape": list(images.shape), "seed": args.image_seed, "kept": keep,
                                  "robust": "same rows with the weights perturbed by %g of each tensor's mean magnitude, 3 times"
                                            % args.perturb},
                       "versions": {"torch": torch.__version__, "open_clip": args.open_clip,
                                    "transformers": "golden/pytorch/openclip_generate.py stand-in"}},
                      f, indent=1)
        print("%-22s %s" % (name, rows[:2]))
    print("wrote %s: %d images (of %d candidates), eos %d, rare %d" % (args.out, len(keep), i + 1, eos, rare))


def check(args):
    CoCa = import_coca(args.open_clip)
    model, _ = build(CoCa, args.check)
    bad = 0
    for f in sorted(os.listdir(args.check)):
        if not f.endswith(".json") or f == "config.json":
            continue
        case = json.load(open(os.path.join(args.check, f)))
        t, _ = safetensors_io.load(os.path.join(args.check, f[:-5] + ".safetensors"))
        out = generate(model, t["input.image"], case["generate_kwargs"])
        same = out.shape == t["output.tokens"].shape and torch.equal(out, t["output.tokens"])
        bad += not same
        print("%s %s" % ("ok  " if same else "FAIL", f[:-5]))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--open-clip", required=True, help="folder holding open_clip/ (a source checkout's src)")
    ap.add_argument("--fixture", help="model fixture dir (config.json, weights.safetensors)")
    ap.add_argument("--out", help="generate fixture dir to write")
    ap.add_argument("--check", help="rerun a generate fixture dir and compare")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--image-seed", type=int, default=1234)
    ap.add_argument("--perturb", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.check:
        return check(args)
    if not (args.fixture and args.out):
        ap.error("--fixture and --out, or --check")
    write_fixtures(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
