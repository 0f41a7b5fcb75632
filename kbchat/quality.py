"""Answer quality figures: groundedness of one answer, agreement between two.

Groundedness is the share of an answer's sentences supported by a passage they cite. A
sentence counts as supported when it cites at least one passage the model was given and, for
one of those, every number in the sentence appears in the passage and at least half of the
sentence's content words do (lower-cased, crude plural/verb endings stripped). It is lexical on
purpose: it is cheap, explainable ("this sentence cites [2] but the figure 30 is not in [2]")
and catches the failure that matters most in policy answers, numbers that are not in the
source. Sentences that only say the documents do not cover the question are left out.

Agreement between two answers is the cosine similarity of their sentence embeddings (0..1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from kbchat.answering.citations import cited_numbers
from kbchat.answering.prompt import Passage
from vectorstore.embedder import Embedder
from vectorstore.keyword import STOPWORDS

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CITATION = re.compile(r"\[[^\]]*\d[^\]]*\]")
_NOT_COVERED = re.compile(
    r"(do(es)? not (cover|contain|mention|say)"
    r"|not (covered|mentioned|in the (documents|passages)))",
    re.IGNORECASE,
)
MIN_WORD_SHARE = 0.5


def sentences(text: str) -> list[str]:
    """Split an answer into sentences (and list items)."""
    parts = (p.strip(" -*•\t") for p in _SENTENCE.split(text))
    return [p for p in parts if p and _WORD.search(_CITATION.sub("", p))]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, crudely stemmed words that are not stop words or numbers."""
    return {
        _stem(w)
        for w in _WORD.findall(text.lower())
        if w not in STOPWORDS and not w.isdigit() and len(w) > 1
    }


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def supported(sentence: str, passage_text: str) -> bool:
    """Whether one passage supports one sentence (numbers present, most words present)."""
    claim = _CITATION.sub("", sentence)
    if not _numbers(claim) <= _numbers(passage_text):
        return False
    words = content_words(claim)
    if not words:
        return True
    return len(words & content_words(passage_text)) / len(words) >= MIN_WORD_SHARE


def groundedness(answer: str, passages: Sequence[Passage]) -> float | None:
    """Share of the answer's sentences supported by a passage they cite.

    Returns:
        A value in [0, 1], or ``None`` when the answer makes no claim to check.
    """
    by_number = {p.n: p for p in passages}
    claims = [s for s in sentences(answer) if not _NOT_COVERED.search(s)]
    if not claims:
        return None
    backed = 0
    for sentence in claims:
        cited = [by_number[n] for n in cited_numbers(sentence) if n in by_number]
        if any(supported(sentence, p.hit.text) for p in cited):
            backed += 1
    return backed / len(claims)


def agreement(first: str, second: str, embedder: Embedder) -> float | None:
    """Cosine similarity of two answers' embeddings, clipped to [0, 1]."""
    if not first.strip() or not second.strip():
        return None
    vectors = embedder.embed_documents([_CITATION.sub("", first), _CITATION.sub("", second)])
    return float(np.clip(np.dot(vectors[0], vectors[1]), 0.0, 1.0))
