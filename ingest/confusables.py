"""Fold look-alike letters so that a path rule cannot be dodged by a homoglyph.

``hr/privаte`` with a Cyrillic ``а`` looks like ``hr/private`` on every screen; path rules
compare skeletons instead: Unicode NFKC (full-width letters, ligatures), accents and other
combining marks removed, invisible format characters dropped, the Cyrillic, Greek and other
letters that look like Latin ones mapped to them (a hand-kept table of the look-alikes in
Unicode's confusables data for the Latin letters), then case folded. Folding only ever makes
more paths match a rule, and a rule can only make a label stricter.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Look-alikes of Latin letters (lower case; upper case is folded first).
_LOOKALIKES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k",
    "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "ԛ": "q", "ѕ": "s", "т": "t",
    "у": "y", "ү": "y", "ԝ": "w", "х": "x", "ԁ": "d", "ɡ": "g", "ց": "g", "ո": "n", "ս": "u",
    "ѵ": "v", "ъ": "b", "ь": "b", "г": "r", "п": "n", "л": "n", "ԍ": "g", "ӡ": "z", "ѡ": "w",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j", "ζ": "z", "μ": "u",
    # Latin letters that pass for others
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʟ": "l", "ɴ": "n", "ʀ": "r", "ꜱ": "s", "ᴠ": "v",
    "ᴡ": "w", "ᴢ": "z", "ø": "o", "đ": "d", "ħ": "h", "ł": "l", "ß": "ss",
    # Armenian, Cherokee, others seen in homograph attacks
    "օ": "o", "ք": "p", "հ": "h", "ᴏ": "o", "ᴄ": "c", "ᴜ": "u",
}  # fmt: skip


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char.isascii():
        return char.lower()
    out = []
    for c in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", char)):
        category = unicodedata.category(c)
        if category in ("Mn", "Me", "Cf"):
            continue
        lower = c.lower()
        out.append(_LOOKALIKES.get(lower, lower))
    return "".join(out)


def skeleton(text: str) -> str:
    """The text with look-alike letters folded to Latin, marks dropped, case folded."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(c) for c in text)
