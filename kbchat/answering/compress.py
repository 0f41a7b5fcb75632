"""Context compression: within passages, keep the sentences that bear on the question.

Reading the prompt, not writing the answer, is most of the wait for a first token on a CPU.
Every passage is cut into sentences (and lines, for tables and lists); a sentence scores its
cosine similarity to the question (the embedder the index already loaded; the sentence is
embedded after its passage's heading, "Leadership: - Head of ...: Marta Silva", so a line
that only makes sense under its heading still scores) plus the share of the question's search
terms it holds.

The best-ranked passage stays whole (it holds the answer most often). A passage after the
first ``shown_top`` none of whose sentences comes within ``drop_margin`` of the best sentence
of all the passages is left out of the prompt. Each other passage keeps its best sentence with
the neighbours it needs: the sentence before it when it leans on it (one that opens with "It",
"They", "This", ... needs the one before to be read right: "It opened in 2014."), the sentence
after it when that one leans on it; then further sentences by score until the passage keeps
about ``keep`` of its characters. Elided runs are marked with "…" so the model knows text was
left out.

Only the prompt changes: the passage keeps its number, its hit and its whole text, so
citations map to the whole passage and the evidence panel shows it whole
(`kbchat.answering.prompt.Passage.excerpt`; an empty excerpt leaves the passage out of the
prompt, the others keep their numbers). Figures: ``benchmarks/context_compression.py``.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from threading import Lock

import numpy as np

from kbchat.answering.prompt import Passage
from vectorstore.embedder import Embedder
from vectorstore.keyword import query_terms

ELLIPSIS = "…"
# A sentence ends at . ! ? (or a closing quote/bracket after one) followed by a space and
# what may start a sentence; abbreviations such as "e.g. x" are rare enough to accept.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]?\s+(?=[\"'“‘(\[]?[A-Z0-9£$€])")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Passages this short, or with this few sentences, are kept whole.
MIN_CHARS = 300
MIN_SENTENCES = 3


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage in order; every line break also ends a sentence."""
    sentences: list[str] = []
    for line in text.split("\n"):
        sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences


def _stem(word: str) -> str:
    """A crude stem so "carry" meets "carried" and "holidays" meets "holiday"."""
    return word[:5] if len(word) > 5 else word


def term_overlap(question_terms: Sequence[str], sentence: str) -> float:
    """Share of the question's search terms (stemmed) that occur in a sentence."""
    if not question_terms:
        return 0.0
    words = {_stem(w) for w in _WORD.findall(sentence.lower())}
    return sum(_stem(t) in words for t in question_terms) / len(question_terms)


@dataclass
class ContextCompressor:
    """Keeps the sentences of each passage that bear on the question.

    Args:
        embedder: the index's embedding model (sentence vectors are cached by text, so the
            second model of a comparison embeds nothing again).
        keep: share of a passage's characters to keep, at least (the best sentence, and the
            one before it when it leans on it, are kept even when they are more).
        keyword_weight: weight of the term overlap added to the cosine similarity.
        whole_top: how many of the best-ranked passages stay whole (the first passage holds
            the answer most often: R@1 0.84 on the SQuAD development set).
        drop_margin: a passage after the first ``shown_top`` whose best sentence scores more
            than this below the best sentence of all the passages is left out of the prompt
            (``None``: none is left out).
        shown_top: how many of the best-ranked passages are never left out.
        cache_size: sentence vectors kept.
    """

    embedder: Embedder
    keep: float = 0.1
    keyword_weight: float = 0.5
    whole_top: int = 1
    drop_margin: float | None = 0.25
    shown_top: int = 2
    cache_size: int = 4096
    _cache: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict, repr=False)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self.embedder.embed_documents(missing)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            found = [self._cache.get(t) for t in texts]
        if any(v is None for v in found):  # evicted meanwhile by another thread: embed again
            return np.asarray(self.embedder.embed_documents(list(texts)), dtype=np.float32)
        return np.stack([v for v in found if v is not None])

    def compress(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """The passages with ``excerpt`` set to the kept sentences (or left whole).

        Args:
            question: the user's question.
            passages: the passages to be put in the prompt.

        Returns:
            The same passages, in order, with their numbers and hits unchanged.
        """
        split = [split_sentences(p.text_for_prompt) for p in passages]
        # Every passage is scored when passages may be left out (the best sentence of all of
        # them is the yardstick); otherwise only those that may be shortened.
        scored = [
            i
            for i, (p, s) in enumerate(zip(passages, split, strict=True))
            if s and (self.drop_margin is not None or (i >= self.whole_top and _worth(p, s)))
        ]
        if not scored:
            return list(passages)
        query = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        vectors = self._vectors([_heading(passages[i]) + s for i in scored for s in split[i]])
        cosines = (
            vectors
            @ query
            / (np.linalg.norm(vectors, axis=1) * (float(np.linalg.norm(query)) or 1.0) + 1e-12)
        )
        terms = query_terms(question)
        scores: dict[int, list[float]] = {}
        start = 0
        for i in scored:
            scores[i] = [
                float(cosines[start + j]) + self.keyword_weight * term_overlap(terms, sentence)
                for j, sentence in enumerate(split[i])
            ]
            start += len(split[i])
        best = max(max(s) for s in scores.values())
        out = list(passages)
        for i in scored:
            if i < self.whole_top:
                continue
            if (
                self.drop_margin is not None
                and i >= self.shown_top
                and max(scores[i]) < best - self.drop_margin
            ):
                out[i] = replace(passages[i], excerpt="")
            elif _worth(passages[i], split[i]):
                out[i] = replace(passages[i], excerpt=self._excerpt(split[i], scores[i]))
        return out

    def _excerpt(self, sentences: list[str], scores: list[float]) -> str | None:
        best = max(range(len(sentences)), key=lambda j: scores[j])
        kept = {best}
        # A best sentence that leans on the one before ("It opened in 2014.") keeps it; a next
        # sentence that leans on the best one goes on about the same thing and is kept too.
        if best > 0 and _leans_back(sentences[best]):
            kept.add(best - 1)
        if best + 1 < len(sentences) and _leans_back(sentences[best + 1]):
            kept.add(best + 1)
        total = sum(len(s) for s in sentences)
        for j in sorted(range(len(sentences)), key=lambda j: -scores[j]):
            if sum(len(sentences[k]) for k in kept) >= self.keep * total:
                break
            kept.add(j)
        if len(kept) == len(sentences):
            return None
        parts: list[str] = []
        previous = -1
        for j in sorted(kept):
            if j != previous + 1:
                parts.append(ELLIPSIS)
            parts.append(sentences[j])
            previous = j
        if previous != len(sentences) - 1:
            parts.append(ELLIPSIS)
        return " ".join(parts)


_LEANING_TEXT = """it its they their them these those this that he his him she her such there
then both either neither another other others thus hence however also later after"""
_LEANING = frozenset(_LEANING_TEXT.split())


def _leans_back(sentence: str) -> bool:
    """Whether a sentence opens with a word that points at the sentence before it."""
    first = _WORD.match(sentence.lower())
    return first is not None and first.group(0) in _LEANING


def _heading(passage: Passage) -> str:
    """The last part of a passage's heading path, to embed before each of its sentences."""
    section = passage.section or ""
    last = section.split(" > ")[-1].strip()
    return f"{last}: " if last else ""


def _worth(passage: Passage, sentences: list[str]) -> bool:
    return len(passage.text_for_prompt) >= MIN_CHARS and len(sentences) >= MIN_SENTENCES
