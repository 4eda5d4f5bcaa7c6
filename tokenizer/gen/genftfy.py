#!/usr/bin/python3
"""Writes tokenizer/ftfy_tables.go: the data of ftfy's mojibake repair
(ftfy.fix_encoding), taken from ftfy itself (made with ftfy 6.3.1):

    /usr/bin/python3 gen/genftfy.py > ftfy_tables.go && gofmt -w ftfy_tables.go

- the single-byte encodings ftfy tries, as decoding tables (ftfy's "sloppy"
  codecs keep undefined bytes as Latin-1 and read byte 0x1A as U+FFFD);
- ftfy.badness.BADNESS_RE, rewritten in Go regexp syntax (Python's \\s and \\w
  spelled out as the classes Python's re gives them);
- the character sets of ftfy.chardata.UTF8_CLUES.
"""

import re
import sys

import ftfy
import ftfy.badness
import ftfy.chardata as chardata

MAXRUNE = 0x110000


def go_string(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    return '"' + "".join(out) + '"'


def class_of(pattern):
    """A Go character class of the code points that match pattern (Python re)."""
    p = re.compile(pattern)
    ranges = []
    start = None
    for i in range(MAXRUNE + 1):
        m = i < MAXRUNE and not (0xD800 <= i < 0xE000) and p.fullmatch(chr(i))
        if m and start is None:
            start = i
        elif not m and start is not None:
            ranges.append((start, i - 1))
            start = None
    parts = []
    for a, b in ranges:
        parts.append("\\x{%x}" % a if a == b else "\\x{%x}-\\x{%x}" % (a, b))
    return "[" + "".join(parts) + "]"


def to_go_regexp(pat):
    """Converts a VERBOSE Python pattern (as ftfy writes BADNESS_RE) to Go."""
    space = class_of(r"\s")
    word = class_of(r"\w")
    out = []
    i = 0
    in_class = False
    while i < len(pat):
        ch = pat[i]
        if ch == "\\":
            nxt = pat[i + 1]
            if nxt == "x":
                out.append("\\x{%s}" % pat[i + 2:i + 4])
                i += 4
                continue
            if nxt == "s" and not in_class:
                out.append(space)
                i += 2
                continue
            if nxt == "w" and not in_class:
                out.append(word)
                i += 2
                continue
            raise ValueError("unhandled escape \\%s" % nxt)
        if in_class:
            if ch == "]":
                in_class = False
                out.append("]")
            elif ch in "-^":
                out.append(ch)
            else:
                out.append("\\x{%x}" % ord(ch))
            i += 1
            continue
        if ch in " \t\n\r\v\f":
            i += 1
            continue
        if ch == "#":
            while i < len(pat) and pat[i] != "\n":
                i += 1
            continue
        if ch == "[":
            in_class = True
            out.append("[")
        elif ch in "|()?*+.^$":
            out.append(ch)
        else:
            out.append("\\x{%x}" % ord(ch))
        i += 1
    return "".join(out)


def parse_alternatives(pat):
    """Splits ftfy's BADNESS_RE (VERBOSE, no groups) into alternatives, each a
    list of atoms: ("set", chars), ("notset", chars), ("space",), ("word",),
    ("dot",); and whether it is anchored with ^."""
    alts = [[False, []]]
    i = 0
    while i < len(pat):
        ch = pat[i]
        if ch in " \t\n\r\v\f":
            i += 1
            continue
        if ch == "#":
            while i < len(pat) and pat[i] != "\n":
                i += 1
            continue
        if ch == "|":
            alts.append([False, []])
            i += 1
            continue
        atoms = alts[-1][1]
        if ch == "[":
            j = i + 1
            if pat[j] == "^":
                j += 1
            while pat[j] != "]":
                j += 2 if pat[j] == "\\" else 1
            cls = pat[i:j + 1]
            if cls.startswith("[^"):
                pos = re.compile("[" + cls[2:])
                atoms.append(("notset", "".join(chr(c) for c in range(0x10000) if pos.fullmatch(chr(c)))))
            else:
                cp = re.compile(cls)
                atoms.append(("set", "".join(chr(c) for c in range(0x10000)
                                             if not 0xD800 <= c < 0xE000 and cp.fullmatch(chr(c)))))
            i = j + 1
            continue
        if ch == "\\":
            e = pat[i + 1]
            atoms.append({"s": ("space",), "w": ("word",)}[e])
            i += 2
            continue
        if ch == "?":
            atoms[-1] = ("opt",) + atoms[-1]
            i += 1
            continue
        if ch == "^":
            assert not atoms
            alts[-1][0] = True
            i += 1
            continue
        if ch == ".":
            atoms.append(("dot",))
            i += 1
            continue
        assert ch not in "()*+{}$", ch
        atoms.append(("set", ch))
        i += 1
    # Expand optional atoms into two alternatives.
    out = []
    for anchored, atoms in alts:
        variants = [[]]
        for a in atoms:
            if a[0] == "opt":
                variants = [v + [a[1:]] for v in variants] + [list(v) for v in variants]
            else:
                variants = [v + [a] for v in variants]
        for v in variants:
            out.append((anchored, v))
    return out


def main():
    w = sys.stdout.write
    w("// Code generated by gen/genftfy.py; DO NOT EDIT.\n")
    w("// ftfy %s, CPython %s.\n\n" % (ftfy.__version__, sys.version.split()[0]))
    w("package tokenizer\n\n")

    w("// charmapNames are the encodings ftfy tries, in its order.\n")
    w("var charmapNames = [...]string{%s}\n\n" % ", ".join(go_string(e) for e in chardata.CHARMAP_ENCODINGS))
    w("// charmapDecode[e][b] is the character byte b decodes to in charmapNames[e].\n")
    w("var charmapDecode = [...][256]rune{\n")
    for e in chardata.CHARMAP_ENCODINGS:
        d = bytes(range(256)).decode(e)
        assert len(set(d)) == 256
        w("\t{ // %s\n" % e)
        for k in range(0, 256, 16):
            w("\t\t" + ", ".join("0x%x" % ord(c) for c in d[k:k + 16]) + ",\n")
        w("\t},\n")
    w("}\n\n")

    # windows-1252, strict: undefined bytes fail
    strict = []
    for b in range(256):
        try:
            strict.append(ord(bytes([b]).decode("windows-1252")))
        except UnicodeDecodeError:
            strict.append(-1)
    w("// windows1252Strict is Python's windows-1252 codec; -1 marks the bytes it rejects.\n")
    w("var windows1252Strict = [256]int32{\n")
    for k in range(0, 256, 16):
        w("\t" + ", ".join("%d" % v for v in strict[k:k + 16]) + ",\n")
    w("}\n\n")

    w("// badnessPattern is ftfy.badness.BADNESS_RE in Go syntax.\n")
    w("const badnessPattern = %s\n\n" % go_string(to_go_regexp(ftfy.badness.BADNESS_RE.pattern)))

    # BADNESS_RE as data for a direct matcher.
    assert all(bool(re.fullmatch(r"\s", chr(c))) == chr(c).isspace() for c in range(MAXRUNE) if not 0xD800 <= c < 0xE000)
    alts = parse_alternatives(ftfy.badness.BADNESS_RE.pattern)
    atoms = []
    index = {}
    for _, v in alts:
        for a in v:
            if a not in index:
                index[a] = len(atoms)
                atoms.append(a)
    kinds = {"set": 0, "notset": 1, "space": 2, "word": 3, "dot": 4}
    w("// badAtoms are the character tests of BADNESS_RE: kind 0 is a set of\n")
    w("// characters, 1 its complement, 2 Python's \\s, 3 Python's \\w, 4 '.'.\n")
    w("var badAtoms = [...]badAtom{\n")
    for a in atoms:
        w("\t{%d, %s},\n" % (kinds[a[0]], go_string(a[1]) if len(a) > 1 else '""'))
    w("}\n\n")
    w("// badAlts are the alternatives of BADNESS_RE (optional atoms expanded).\n")
    w("var badAlts = [...]badAlt{\n")
    for anchored, v in alts:
        w("\t{%s, []uint8{%s}},\n" % ("true" if anchored else "false", ", ".join(str(index[a]) for a in v)))
    w("}\n\n")
    wp = re.compile(r"\w")
    ranges = []
    start = None
    for c in range(MAXRUNE + 1):
        m = c < MAXRUNE and not 0xD800 <= c < 0xE000 and wp.fullmatch(chr(c))
        if m and start is None:
            start = c
        elif not m and start is not None:
            ranges.append((start, c - 1))
            start = None
    w("// pyWordRanges are the inclusive ranges of Python's \\w (str patterns).\n")
    w("var pyWordRanges = [...][2]rune{\n")
    for a, b in ranges:
        w("\t{0x%x, 0x%x},\n" % (a, b))
    w("}\n\n")

    for name, key in [("utf8First2", "utf8_first_of_2"), ("utf8First3", "utf8_first_of_3"),
                      ("utf8First4", "utf8_first_of_4"), ("utf8Cont", "utf8_continuation"),
                      ("utf8ContStrict", "utf8_continuation_strict")]:
        cp = re.compile("[%s]" % chardata.UTF8_CLUES[key])
        chars = [chr(i) for i in range(MAXRUNE) if not 0xD800 <= i < 0xE000 and cp.fullmatch(chr(i))]
        w("// %s is ftfy's UTF8_CLUES[%r].\n" % (name, key))
        w("const %s = %s\n\n" % (name, go_string("".join(chars))))


if __name__ == "__main__":
    main()
