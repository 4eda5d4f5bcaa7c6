#!/usr/bin/python3
"""Writes openclip_random.jsonl: open_clip's ids for random strings.

Usage, as for make_openclip_extra.py (see README.md):

    /usr/bin/python3 make_openclip_random.py OPEN_CLIP_TOKENIZER_DIR > openclip_random.jsonl

It draws 20000 strings (seed 1) from a mix of ASCII, Latin, Greek, Cyrillic,
symbols, CJK, full-width forms, emoji, HTML entities and characters that
exercise case mapping, and keeps every 100th string plus every string whose
cleaning changes when ftfy's mojibake repair (fix_encoding) is turned off.
Fields: text, encode, decode, clean.
"""

import functools
import json
import random
import sys

sys.path.insert(0, sys.argv[1])
import ftfy  # noqa: E402
import tokenizer as oc  # noqa: E402

rnd = random.Random(1)
pools = [
    [chr(i) for i in range(0x20, 0x7F)],
    list("aeiouAEIOU        '&;#<>\n\t\r"),
    [chr(i) for i in range(0x80, 0x250)],
    [chr(i) for i in range(0x370, 0x530)],
    [chr(i) for i in range(0x1E00, 0x2100)],
    [chr(i) for i in range(0x2100, 0x2C00)],
    [chr(i) for i in range(0x3000, 0x3100)],
    [chr(i) for i in range(0xFF00, 0xFFF0)],
    [chr(i) for i in range(0x1F300, 0x1FA00)],
    ["&amp;", "&lt;", "&gt;", "&#39;", "&#x27;", "&eacute;", "&EACUTE;", "&nbsp;", "&amp;amp;", "&#0;",
     "&#128;", "&not", "&notin;", "'s", "'ll", "'S", "ſ", "İ", "Σ", "ͅ", "\u200d", "\ufe0f", "\u0301",
     "ﬁ", "“", "’"],
]
words = ["the ", "Cat ", "DOG ", "photo ", " ", "a"]

tok = oc._tokenizer
with_fix = tok.clean_fn
real_fix_text = oc.ftfy.fix_text
no_fix = functools.partial(ftfy.fix_text, fix_encoding=False)

for k in range(20000):
    n = rnd.randint(0, 40)
    s = "".join(rnd.choice(rnd.choice(pools)) if rnd.random() < 0.5 else rnd.choice(words) for _ in range(n))
    clean = with_fix(s)
    oc.ftfy.fix_text = no_fix
    clean_nofix = with_fix(s)
    oc.ftfy.fix_text = real_fix_text
    if k % 100 != 0 and clean == clean_nofix:
        continue
    enc = tok.encode(s)
    print(json.dumps({"text": s, "encode": enc, "decode": tok.decode(enc), "clean": clean}, ensure_ascii=False))
