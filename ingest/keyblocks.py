"""Where private key blocks (PEM ``BEGIN … PRIVATE KEY``, PGP private key blocks) are in a text.

Chunking keeps each block whole (a key split in two matches no pattern), and redaction removes
each block whole, including a block whose END line is missing (or whose BEGIN line is, in a
passage cut by an older chunker). Every search here is linear in the length of the text.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
# What follows a BEGIN line whose END is missing: base64 lines, header lines, blank lines.
_BODY = re.compile(r"(?:[ \t]*+(?:[A-Za-z][A-Za-z-]*+:[^\n]*+|[A-Za-z0-9+/=]*+)[ \t]*+\r?\n)*+"
                   r"(?:[A-Za-z0-9+/=]++[ \t]*+\Z)?")  # fmt: skip
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]{16,}[ \t]*")


def key_blocks(text: str) -> list[tuple[int, int]]:
    """The spans of private key blocks in ``text``, in order, never overlapping."""
    ends = [(m.start(), m.end()) for m in END.finditer(text)]
    end_starts = [start for start, _ in ends]
    spans: list[tuple[int, int]] = []
    pos = 0
    for begin in BEGIN.finditer(text):
        if begin.start() < pos:
            continue
        i = bisect_left(end_starts, begin.end())
        if i < len(ends):
            stop = ends[i][1]
        else:
            body = _BODY.match(text, begin.end())
            stop = body.end() if body else begin.end()
        spans.append((begin.start(), stop))
        pos = stop
    # An END line without its BEGIN: the base64 lines right above it belong to the key.
    starts = [start for start, _ in spans]
    orphans: list[tuple[int, int]] = []
    for start, stop in ends:
        j = bisect_right(starts, start) - 1
        if j >= 0 and spans[j][1] >= stop:
            continue  # the END of a block found above
        floor = max(spans[j][1] if j >= 0 else 0, orphans[-1][1] if orphans else 0)
        first = start
        while first > floor:
            line_start = max(text.rfind("\n", floor, first - 1) + 1, floor)
            if not _BASE64_LINE.fullmatch(text[line_start:first].rstrip("\r\n")):
                break
            first = line_start
        orphans.append((first, stop))
    return sorted(spans + orphans)
