"""Answer scoring: groundedness of one answer, agreement between two.

Groundedness is the share of an answer's sentences supported by a passage they cite. A
sentence counts as supported when it cites at least one passage the model was given and, for
one of those, every number in the sentence appears in the passage and at least half of the
sentence's content words do (lower-cased, crude plural/verb endings stripped). It is lexical on
purpose: it is cheap, explainable ("this sentence cites [2] but the figure 30 is not in [2]")
and catches the failure that matters most in policy answers, numbers that are not in the
source. Sentences that only say the documents do not cover the question are left out
(`says_not_covered`; `is_refusal` uses the same test for a whole answer).

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
# "The documents do not cover it" and the ways models phrase it. The subject must be the
# documents (or the model itself): "the policy does not cover contractors" is a claim.
_NOT_COVERED = re.compile(
    r"\b(documents?|passages?|context|sources?|texts?|information (provided|given|available))\b"
    r"[^.!?\n]{0,40}?\b(do(es)?(n't| not)|did(n't| not)|cannot|can't|fails? to) "
    r"(cover|contain|mention|say|include|address|specify|provide|state|answer|give|discuss|have)"
    r"|\bnot (covered|mentioned|specified|addressed|included|stated|provided|found|given|"
    r"answered|discussed) (in|by) (the|these|those|any) (documents?|passages?|context|sources?)"
    r"|\bnot in the (documents?|passages?|context|sources?)"
    r"|\b(i|we) (could|can|was|were)(n't|not| not)( able to)? (find|see|locate|answer)"
    r"|\b(i|we) (do|did)(n't| not) (find|see|have)( any)? (information|details|mention|answer)"
    r"|\bthere (is|was|are)(n't| no| not)( any)? (information|mention|details?|data|answer)",
    re.IGNORECASE,
)
# Short openers a refusal may start with before it says what is missing ("Sorry.").
_COURTESY_WORDS = 3
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


def says_not_covered(sentence: str) -> bool:
    """Whether a sentence says the documents do not cover the question."""
    return _NOT_COVERED.search(sentence.replace("’", "'")) is not None


def is_refusal(answer: str, answered_by_model: bool = True) -> bool:
    """Whether an answer declines to answer: the one refusal test of kbchat.

    An answer is a refusal when the model was not called (retrieval found nothing relevant,
    so the fixed "nothing found" text was given), or when the answer opens by saying the
    documents do not cover the question: its first sentence, or the second after a short
    opener such as "Sorry." (what follows is usually advice on whom to ask). An answer that
    gives facts first and then says some detail is not covered is not a refusal.
    """
    if not answered_by_model:
        return True
    for sentence in sentences(answer):
        if says_not_covered(sentence):
            return True
        if len(_WORD.findall(sentence)) > _COURTESY_WORDS:
            return False
    return False


def groundedness(answer: str, passages: Sequence[Passage]) -> float | None:
    """Share of the answer's sentences supported by a passage they cite.

    Returns:
        A value in [0, 1], or ``None`` when the answer makes no claim to check.
    """
    by_number = {p.n: p for p in passages}
    claims = [s for s in sentences(answer) if not says_not_covered(s)]
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
