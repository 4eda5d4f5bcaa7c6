#!/usr/bin/python3
"""Writes openclip_extra.jsonl: reference ids from open_clip's own tokenizer.

Usage (Debian's /usr/bin/python3 with python3-torch; the `regex` and `ftfy`
modules on PYTHONPATH):

    /usr/bin/python3 make_openclip_extra.py OPEN_CLIP_TOKENIZER_DIR > openclip_extra.jsonl

OPEN_CLIP_TOKENIZER_DIR holds open_clip's src/open_clip/tokenizer.py and
bpe_simple_vocab_16e6.txt.gz (the script imports that file; open_clip's code
is not part of this project). Each line: text, context_length, ids
(tokenize(text, context_length)), ids77, encode, decode (decode(encode)), and
clean (the tokenizer's clean_fn(text), the text the pattern splits).
"""

import json
import sys

sys.path.insert(0, sys.argv[1])
import ftfy  # noqa: E402
import regex  # noqa: E402
import tokenizer as oc  # noqa: E402

LONG = (
    "A very long caption about a crowded farmers market on a sunny Saturday morning, "
    "with stalls selling apples, pears, heirloom tomatoes, fresh bread, cheese, honey, "
    "flowers and hand-made soap, while a street musician plays the violin, children "
    "chase pigeons across the square, and an old man in a straw hat reads a newspaper "
    "on a bench beside a fountain that sparkles in the light."
)

TEXTS = [
    # accents and mixed case with non-ASCII capitals
    "Crème Brûlée at the Café de Flore",
    "ÉCOLE NORMALE SUPÉRIEURE, Paris",
    "Ångström, Ørsted and Ærø in Denmark",
    "İstanbul'un tarihi yarımadası",
    "ΟΔΥΣΣΕΥΣ ΚΑΙ ΠΗΝΕΛΟΠΗ",
    "Σ alone, ΑΣ, ΑΣ-Β and ΑΣΑ",
    "Straße in München; GROẞE Straße",
    "ǅemal and ǈubljana with titlecase digraphs",
    "Ça va? Ñandú in Señor García's garden",
    "Şişli, Łódź, Dvořák, Đặng",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ and ｶﾀｶﾅ half-width",
    # CJK and other scripts
    "東京タワーと富士山の夜景",
    "一只猫坐在窗台上看着外面的雨",
    "서울의 밤거리 풍경",
    "ภาพถ่ายของแมวบนโซฟา",
    "नमस्ते दुनिया, यह एक परीक्षण है",
    "עברית ועוד שפה: שלום עולם",
    "Ελληνικά: ο σκύλος τρέχει στην παραλία",
    # emoji, ZWJ sequences, flags, skin tones, variation selectors
    "family 👨‍👩‍👧‍👦 at the beach 🏖️",
    "rainbow flag 🏳️‍🌈 and pirate flag 🏴‍☠️",
    "thumbs up 👍🏽 and waving hand 👋🏿",
    "flags 🇫🇷🇯🇵🇺🇸 in a row",
    "heart ❤️ vs ❤ and keycap 1️⃣",
    "woman technologist 👩🏻‍💻 with coffee ☕",
    # HTML entities (ftfy decodes repeatedly when no '<'; then html.unescape twice)
    "Tom &amp;amp; Jerry",
    "Fish &amp;amp;amp;amp; Chips",
    "&lt;b&gt;bold&lt;/b&gt; text",
    "<b>real tag</b> &amp;amp; more",
    "first line &amp;amp;\n<tag> line &amp;amp;\nthird &amp;amp;",
    "first &amp;amp;amp;amp;\nsecond <i> &amp;amp;amp;amp;\nthird &amp;amp;amp;amp;",
    "&quot;quoted&quot; and &#39;single&#39; &#x27;hex&#x27;",
    "caf&eacute; &EACUTE;COLE &Eacute;cole",
    "&copy; 2023 &mdash; all rights &reg; &trade;",
    "&notit; &not it &ampx &amp &#128512; &#x1F600 &#0; &#1;x &#x110000;",
    "price &pound;10 &euro;12 &yen;300 &#8364;5",
    # ftfy's other fixes
    "“curly quotes” and ‘single’ quotes it’s",
    "ﬁne ﬂowers in the ﬃce",
    "tab\tseparated\tvalues\r\nand CRLF\rCR",
    "line\u2028separator\u2029paragraph\u0085nextline",
    "control\u0000chars\u0007and\u001bescape \u001b[31mred\u001b[0m",
    "zero\u200bwidth\u200dspace and soft\u00adhyphen",
    "bom\ufeffin the middle and \u206adeprecated",
    "c1 \u0093controls\u0094 \u0080 \u0099",
    "non\u00a0breaking\u2003em\u3000ideographic spaces",
    "combining: cafe\u0301 and A\u030a and a\u0345b",
    # contractions and case folding in the pattern
    "It's THEY'RE We've I'M You'll He'd isn't",
    "rock'n'roll 'twas 'ſ 'S",
    "<start_of_text>Tagged<END_OF_TEXT> <ſtart_of_text>",
    "<|startoftext|>openai style<|endoftext|>",
    # numbers and punctuation
    "Room 101, 3.14159, ١٢٣ and ½ ² Ⅻ ⑦",
    "snake_case, kebab-case, CamelCase, @handle #tag $5.00 100%",
    "!!!??? ... --- ((([[[{{{",
    "https://example.com/path?query=1&x=2#frag",
    # long texts (truncation)
    LONG,
    LONG.upper(),
    "supercalifragilisticexpialidocious" * 6,
    "日本語のとても長い文章" * 12,
    "🐶" * 90,
    "word " * 120,
]

CONTEXT = [77, 76]

for i, text in enumerate(TEXTS):
    ctx = CONTEXT[i % 2]
    tok = oc._tokenizer
    enc = tok.encode(text)
    line = {
        "text": text,
        "context_length": ctx,
        "ids": oc.tokenize(text, context_length=ctx)[0].tolist(),
        "ids77": oc.tokenize(text, context_length=77)[0].tolist(),
        "encode": enc,
        "decode": tok.decode(enc),
        "clean": tok.clean_fn(text),
    }
    print(json.dumps(line, ensure_ascii=False))
