"""Text from documents and models, made safe to show in Streamlit.

Streamlit renders labels, captions and ``st.markdown`` as Markdown (GitHub-flavoured, with
its own directives). Text that comes from documents or from a model must not be able to load
an image, make a link, run HTML or LaTeX, so it goes through one of these before it is shown:

- `answer_markdown` keeps plain formatting (bold, italics, lists, tables, headings) but
  escapes every character that starts an image, a link, a reference, a footnote, raw HTML,
  an autolink, code, math or a Streamlit directive, and breaks bare URLs and e-mail addresses
  with an invisible zero-width space (GitHub-flavoured Markdown links them from plain text).
- `label_markdown` escapes every ASCII punctuation character: the text shows as written.
- `AnswerSanitiser` does what `answer_markdown` does, delta by delta, for a streamed answer:
  the concatenated output equals `answer_markdown` of the whole text, so ``st.write_stream``
  never renders a prefix that a later delta would have neutralised.

Passage text itself is shown with ``st.text`` (no Markdown at all); raw HTML is never enabled.
"""

from __future__ import annotations

import string
from collections.abc import Generator, Iterable
from datetime import UTC, datetime

from kbchat.llm.base import GenerationStats

ZWSP = "\u200b"
# Characters that start the constructs an answer must not contain (see the module docstring).
_ANSWER_SPECIALS = frozenset("\\`[]<$&:")
_ALL_PUNCTUATION = frozenset(string.punctuation)
_TAIL = 3  # characters of look-behind the autolink rules need ("www")


class AnswerSanitiser:
    """Escapes Markdown as it streams, one delta at a time.

    Every decision depends only on the text already seen, so the output of the deltas,
    concatenated, equals the output for the whole text, however it was split.

    Args:
        strict: escape every ASCII punctuation character (for labels), not only the
            dangerous ones.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self._specials = _ALL_PUNCTUATION if strict else _ANSWER_SPECIALS
        self._tail = ""

    def feed(self, delta: str) -> str:
        """The escaped form of the next piece of text."""
        out: list[str] = []
        for char in delta:
            out.append(self._escape(char))
            self._tail = (self._tail + char)[-_TAIL:]
        return "".join(out)

    def _escape(self, char: str) -> str:
        text = f"\\{char}" if char in self._specials else char
        if char == "/" and self._tail.endswith(":"):
            return ZWSP + text  # "https://x" would be linked: "https:\u200b//x" is not
        if char == "." and self._tail.lower() == "www":
            return ZWSP + text  # "www.x.com" likewise
        if char == "@":
            return text + ZWSP  # "someone@x.com" likewise (an e-mail link)
        return text


def answer_markdown(text: str) -> str:
    """A model's answer as Markdown that can format text but not load or link anything."""
    return AnswerSanitiser().feed(text)


def label_markdown(text: str) -> str:
    """Document text (a file name, a heading) for a Markdown label: shown exactly, one line."""
    return AnswerSanitiser(strict=True).feed(" ".join(text.split()))


def sanitised_stream(deltas: Iterable[str]) -> Generator[str, None, None]:
    """Escape a stream of answer deltas for ``st.write_stream`` (see `AnswerSanitiser`).

    Closing this generator closes the one it reads (so an abandoned answer frees the model).
    """
    sanitiser = AnswerSanitiser()
    source = iter(deltas)
    try:
        for delta in source:
            escaped = sanitiser.feed(delta)
            if escaped:
                yield escaped
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def timing_text(
    stats: GenerationStats | None, retrieval_s: float | None, dropped_passages: int = 0
) -> str:
    """The timing line under an answer: first token, total, tokens/s, retrieval, waiting."""
    parts: list[str] = []
    if stats is not None:
        if stats.ttft_s is not None:
            parts.append(f"first token {stats.ttft_s:.1f} s")
        parts.append(f"total {stats.total_s:.1f} s")
        if stats.tokens_per_s is not None:
            parts.append(f"{stats.tokens_per_s:.1f} tokens/s")
        if stats.queued_s >= 0.05:
            parts.append(f"waited {stats.queued_s:.1f} s for the model")
    if retrieval_s is not None:
        parts.append(f"retrieval {retrieval_s:.2f} s")
    if dropped_passages > 0:
        plural = "passage" if dropped_passages == 1 else "passages"
        parts.append(f"{dropped_passages} {plural} left out to fit the model's context")
    return " · ".join(parts)


def when(iso: str | None) -> str:
    """An ISO timestamp from the core as ``2026-05-04 09:30 UTC`` (as given if unparsable)."""
    if not iso:
        return "never"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M")
