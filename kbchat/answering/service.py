"""Answering a question: retrieve, fit the prompt, stream the model's answer, map citations."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kbchat.answering.budget import fit_prompt
from kbchat.answering.citations import Citation, map_citations
from kbchat.answering.compress import ContextCompressor
from kbchat.answering.followup import FollowupStrategy, search_with_history
from kbchat.answering.prompt import SYSTEM_PROMPT, Passage
from kbchat.answering.relevance import RelevanceGate, RelevanceVerdict
from kbchat.answering.scoring import groundedness
from kbchat.errors import IndexEmptyError, QuestionTooLongError
from kbchat.identity import User
from kbchat.llm.base import ChatBackend, ChatMessage, ChatStream, GenerationStats, OnWait
from kbchat.lower_errors import translated
from vectorstore.index import KnowledgeIndex
from vectorstore.records import Filters, SearchHit

if TYPE_CHECKING:
    from kbchat.knowledge import AccessPolicy

BackendLabel = Literal["private", "cloud"]

NOTHING_FOUND = (
    "I could not find anything about this in the documents, so I cannot answer it. "
    "Try other words, or ask the owner of the topic."
)
# Earlier exchanges (question + answer) given to the model, before budgeting trims them.
HISTORY_EXCHANGES = 3


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of the conversation.

    The conversation's taint rule (see `kbchat.conversation`): once an exchange has drawn on
    a confidential passage, it and every later exchange are *tainted*, and the cloud policy
    gate sends none of them to the cloud, so nothing derived from that passage (a private
    answer repeating it, a follow-up answered with it in view) leaves the company.

    Attributes:
        question: what was asked.
        answer: the answer the conversation went on from.
        used_confidential: this exchange, or an earlier one of its conversation, drew on a
            confidential passage (the taint); the gate also carries it on to later turns.
        passages: every passage a model was given for this exchange, so that the gate can
            judge them again by the labels in force when the next question is asked.
        sources: the documents the answer drew on (checked again by their current label).
    """

    question: str
    answer: str
    used_confidential: bool = False
    sources: tuple[str, ...] = ()
    passages: tuple[Passage, ...] = ()


@dataclass(frozen=True)
class Retrieval:
    """What retrieval found for a question, shared by every model that answers it."""

    question: str
    passages: list[Passage]
    relevant: bool
    seconds: float
    verdict: RelevanceVerdict | None = None

    @property
    def hits(self) -> list[SearchHit]:
        """The passages' search hits, best first."""
        return [p.hit for p in self.passages]


@dataclass
class Answer:
    """One model's answer to one question."""

    backend: BackendLabel
    model: str
    text: str = ""
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    stats: GenerationStats | None = None
    fallback: bool = False
    notice: str | None = None
    answered_by_model: bool = True
    dropped_passages: int = 0
    error: str | None = None
    cost_usd: float | None = None
    groundedness: float | None = None

    @property
    def used_confidential(self) -> bool:
        """Whether the model was given any passage indexed as confidential (for the label in
        force now, see `kbchat.policy.gate.CloudGate.turn_is_confidential`)."""
        return any(p.hit.metadata.get("sensitivity") == "confidential" for p in self.passages)

    @property
    def sources(self) -> tuple[str, ...]:
        """The documents of the passages the model was given, each once, in order."""
        return tuple(dict.fromkeys(p.source for p in self.passages))

    def to_dict(self) -> dict[str, Any]:
        """The shape of an entry of ``answers`` in ``kbchat ask --json``."""
        stats = self.stats
        return {
            "backend": self.backend,
            "model": self.model,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "ttft_s": _round(stats.ttft_s) if stats else None,
            "seconds": _round(stats.seconds) if stats else None,
            "tokens_in": stats.tokens_in if stats else 0,
            "cached_tokens": stats.cached_tokens if stats else 0,
            "tokens_out": stats.tokens_out if stats else 0,
            "tokens_per_s": _round(stats.tokens_per_s) if stats else None,
            "queued_s": _round(stats.queued_s) if stats else None,
            "fallback": self.fallback,
            "notice": self.notice,
            "passages_used": [p.n for p in self.passages],
            "groundedness": _round(self.groundedness),
            "error": self.error,
            **({"cost_usd": self.cost_usd} if self.backend == "cloud" else {}),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


FinishHook = Callable[["Answer", BaseException | None], None]


class AnswerStream:
    """Text deltas of an answer as the model writes them; ``answer`` is complete afterwards.

    ``on_finish(answer, error)`` runs once when the stream ends, is closed, or fails.
    """

    def __init__(
        self, answer: Answer, stream: ChatStream | None, on_finish: FinishHook | None = None
    ) -> None:
        self.answer = answer
        self._stream = stream
        self._on_finish = on_finish

    def __iter__(self) -> Iterator[str]:
        if self._stream is None:
            yield self.answer.text
            self._finish(None)
            return
        error: BaseException | None = None
        try:
            yield from self._stream
        except BaseException as err:
            error = err
            raise
        finally:
            self._stream.close()  # an abandoned answer must free the model at once
            self.answer.text = self._stream.text
            self.answer.stats = self._stream.stats
            self.answer.citations = map_citations(self.answer.text, self.answer.passages)
            self.answer.groundedness = groundedness(self.answer.text, self.answer.passages)
            self._finish(error)

    def _finish(self, error: BaseException | None) -> None:
        hook, self._on_finish = self._on_finish, None
        if hook is not None:
            hook(self.answer, error)

    def close(self) -> None:
        """Stop the model early."""
        if self._stream is not None:
            self._stream.close()

    def consume(self) -> Answer:
        """Read the whole answer."""
        for _ in self:
            pass
        return self.answer


class Answerer:
    """Answers questions from the knowledge index with one chat model.

    Args:
        index: the knowledge index.
        backend: the chat model.
        label: ``private`` or ``cloud``.
        top_k: passages given to the model.
        min_relevance: below this cosine similarity of the best passage, and below
            ``min_keyword_relevance`` for its BM25 score, the question is taken as not
            covered by the documents and the model is not called (`RelevanceGate`).
        min_keyword_relevance: the BM25 score that makes a passage relevant on its own...
        min_keyword_coverage: ...when it holds this share of the question's search terms.
        max_answer_tokens: room kept for the answer.
        temperature: sampling temperature.
        fallback: whether the model is a stand-in for the configured one.
        notice: what to tell the user about the model (e.g. the fallback), if anything.
        followup: retrieval strategy for follow-up questions.
        compress: keep only the sentences of each passage that bear on the question in the
            prompt (`kbchat.answering.compress`); citations still name whole passages.
        compress_keep: share of a passage's characters compression keeps, at least.
        compress_whole_top: best-ranked passages compression leaves whole.
        compress_shown_top: best-ranked passages compression never leaves out.
        compress_drop_margin: how far below the best sentence of all the passages a passage's
            best sentence may score before compression leaves the passage out (``None``:
            never).
        max_question_chars: longest question accepted (``None``: no limit); a longer one is
            refused before any search or model call.
        access: the access in force (`kbchat.access`), checked on every hit of a
            reader without full access; ``None``: the filter inside retrieval alone.
    """

    def __init__(
        self,
        index: KnowledgeIndex,
        backend: ChatBackend,
        *,
        label: BackendLabel = "private",
        top_k: int = 5,
        min_relevance: float = 0.3,
        min_keyword_relevance: float = RelevanceGate.min_keyword,
        min_keyword_coverage: float = RelevanceGate.min_coverage,
        max_answer_tokens: int = 512,
        temperature: float = 0.1,
        fallback: bool = False,
        notice: str | None = None,
        followup: FollowupStrategy = "fused",
        compress: bool = False,
        compress_keep: float = 0.1,
        compress_whole_top: int = 1,
        compress_shown_top: int = 2,
        compress_drop_margin: float | None = 0.25,
        max_question_chars: int | None = None,
        access: AccessPolicy | None = None,
    ) -> None:
        self.index = index
        self.backend = backend
        self.label = label
        self.top_k = top_k
        self.min_relevance = min_relevance
        self.gate = RelevanceGate(min_relevance, min_keyword_relevance, min_keyword_coverage)
        self.max_answer_tokens = max_answer_tokens
        self.temperature = temperature
        self.fallback = fallback
        self.notice = notice
        self.followup = followup
        self.compressor = (
            ContextCompressor(
                index.embedder,
                keep=compress_keep,
                whole_top=compress_whole_top,
                shown_top=compress_shown_top,
                drop_margin=compress_drop_margin,
            )
            if compress
            else None
        )
        self.max_question_chars = max_question_chars
        self.access = access

    def check_question(self, question: str) -> None:
        """Refuse a question longer than the limit.

        Raises:
            QuestionTooLongError: the question is over ``max_question_chars``.
        """
        limit = self.max_question_chars
        if limit is not None and len(question) > limit:
            raise QuestionTooLongError(len(question), limit)

    def retrieve(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        filters: Filters | None = None,
        reader: User | None = None,
    ) -> Retrieval:
        """Find the passages for a question (taking earlier questions into account).

        Args:
            question: the question.
            history: the earlier turns of the conversation.
            filters: metadata filters.
            reader: who asks; only passages their groups may read are searched (inside both
                retrievers, before fusion). ``None`` or a full-access reader: no filter.

        Raises:
            QuestionTooLongError: the question is longer than ``max_question_chars``.
            IndexEmptyError: nothing has been ingested yet.
            KbchatError: the index or the embedding model cannot be used.
        """
        self.check_question(question)
        started = time.perf_counter()
        limited = reader is not None and not reader.full_access
        readable_by = sorted(reader.groups) if reader is not None and limited else None
        with translated():
            if self.index.count() == 0:
                raise IndexEmptyError()
            hits = self._search(question, history, filters, readable_by)
            if reader is not None and limited and self.access is not None:
                hits = self._readable(question, history, filters, reader, hits)
        verdict = self.gate.judge(hits)
        passages = [Passage(n, hit) for n, hit in enumerate(hits, start=1)]
        return Retrieval(
            question, passages, verdict.relevant, time.perf_counter() - started, verdict
        )

    def _search(
        self,
        question: str,
        history: Sequence[Turn],
        filters: Filters | None,
        readable_by: Sequence[str] | None,
    ) -> list[SearchHit]:
        return search_with_history(
            self.index,
            question,
            [turn.question for turn in history],
            self.top_k,
            strategy=self.followup,
            filters=filters,
            readable_by=readable_by,
        )

    def _readable(
        self,
        question: str,
        history: Sequence[Turn],
        filters: Filters | None,
        reader: User,
        hits: list[SearchHit],
    ) -> list[SearchHit]:
        """Defence in depth: drop hits whose access in force the reader lacks (the stored
        access was stale); then repair those documents' stored access and search once more,
        so ``k`` still holds."""
        assert self.access is not None
        current = self.access.current()

        def allowed(hit: SearchHit) -> bool:
            return current.may_read(reader, str(hit.metadata.get("source", "")))

        stale = {str(h.metadata.get("source", "")) for h in hits if not allowed(h)}
        if not stale:
            return hits
        self.access.reconcile(current, stale)
        again = self._search(question, history, filters, sorted(reader.groups))
        return [h for h in again if allowed(h)]

    def warm_up(self, *, model: bool = False) -> None:
        """Load the embedding model and open the index now, not on the first question.

        Args:
            model: Also load the chat model and read the instructions every prompt begins
                with, so the first answer pays for neither (an in-process model only).

        Raises:
            KbchatError: the index, the embedding model or the chat model cannot be used.
        """
        with translated():
            self.index.embedder.embed_query("warm up")
            self.index.count()
        if model:
            self.backend.warm_up(SYSTEM_PROMPT)

    def stream(
        self,
        retrieval: Retrieval,
        history: Sequence[Turn] = (),
        *,
        passages: Sequence[Passage] | None = None,
        on_wait: OnWait | None = None,
        guard: Callable[[list[ChatMessage]], None] | None = None,
        on_finish: FinishHook | None = None,
    ) -> AnswerStream:
        """Start answering; iterate the result for text as it is written.

        Args:
            retrieval: what retrieval found (shared between models in a comparison).
            history: earlier exchanges, oldest first.
            passages: the passages this model may see (default: all retrieved).
            on_wait: called with the number of requests ahead when the model is busy.
            guard: sees the assembled prompt just before it is sent and may refuse it by
                raising (the cloud policy gate's last check).
            on_finish: called once with the finished answer (and the error, if it failed).

        Raises:
            QuestionTooLongError: the question is longer than ``max_question_chars``.
            ModelError: the model cannot be loaded or refuses the request.
            KbchatError: the question alone does not fit the model's context.
        """
        self.check_question(retrieval.question)
        answer = Answer(
            backend=self.label,
            model=self.backend.model_name,
            fallback=self.fallback,
            notice=self.notice,
        )
        given = list(retrieval.passages if passages is None else passages)
        if not retrieval.relevant or not given:
            answer.text = NOTHING_FOUND
            answer.answered_by_model = False
            return AnswerStream(answer, None, on_finish)
        if self.compressor is not None:
            with translated():
                given = self.compressor.compress(retrieval.question, given)
        fitted = fit_prompt(
            retrieval.question,
            given,
            _history_messages(history),
            count_messages=self.backend.count_messages,
            context_window=self.backend.context_window,
            answer_tokens=self.max_answer_tokens,
        )
        answer.passages = fitted.passages
        answer.dropped_passages = len(fitted.dropped_passages)
        if guard is not None:
            guard(fitted.messages)
        stream = self.backend.stream_chat(
            fitted.messages,
            max_tokens=self.max_answer_tokens,
            temperature=self.temperature,
            on_wait=on_wait,
        )
        return AnswerStream(answer, stream, on_finish)


def _history_messages(history: Sequence[Turn]) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    for turn in list(history)[-HISTORY_EXCHANGES:]:
        messages.append(ChatMessage("user", turn.question))
        messages.append(ChatMessage("assistant", turn.answer))
    return messages
