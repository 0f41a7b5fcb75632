"""The cloud policy gate: what may be sent to the cloud model, decided after retrieval.

Guarantees, for every request to the cloud:
- nothing is sent unless an admin allows the cloud and a key is configured;
- no passage of a document whose current label is confidential is sent (the label as it is
  now: admin label, front matter, path rules, strictest wins, confidential when it cannot be
  determined; `kbchat.policy.labels`), nor a passage indexed as confidential, nor an earlier
  answer that drew on such a document (its sources are checked again at each request); the
  user is told what was withheld;
- conversation taint: once an exchange of the conversation has drawn on a confidential
  passage, neither it nor any later exchange is sent as history (see `kbchat.conversation`
  for why the taint passes on rather than stopping at the exchange that used the passage);
- configured redactions are applied to everything sent (question, passages, history);
- the fully assembled prompt is checked once more just before it is sent: any run of
  `kbchat.policy.overlap.SHINGLE_WORDS` words of a withheld passage (anywhere in it, after
  normalisation), or an unredacted value, stops the request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from kbchat.answering.prompt import SYSTEM_PROMPT, Passage, build_messages
from kbchat.answering.service import Retrieval, Turn
from kbchat.errors import CloudNotAllowedError
from kbchat.llm.base import ChatMessage
from kbchat.overrides import effective_settings
from kbchat.policy.labels import CurrentLabels
from kbchat.policy.overlap import Shingles
from kbchat.policy.redaction import Redactor
from kbchat.settings import Settings
from vectorstore.records import SearchHit


@dataclass(frozen=True)
class Withheld:
    """A passage kept from the cloud, and why."""

    passage: Passage
    reason: str

    def to_dict(self) -> dict[str, str]:
        """The shape of ``withheld`` in ``kbchat ask --json``."""
        return {
            "chunk_id": self.passage.hit.chunk_id,
            "source": self.passage.source,
            "reason": self.reason,
        }


@dataclass
class GateDecision:
    """What the gate lets through for one question.

    Attributes:
        allowed: whether the cloud may be called at all.
        reason: why not, when not allowed (for the user and the audit log).
        retrieval: the question and passages to send, redacted (passage numbers unchanged).
        history: earlier exchanges to send, redacted; tainted turns (see `Turn`) and turns
            repeating withheld text are left out.
        withheld: passages kept back, with reasons.
        redactions: how many values of each kind were redacted.
        history_withheld: how many earlier exchanges were kept back.
        withheld_texts: the confidential text this request must not carry (the withheld
            passages and the confidential passages of earlier exchanges).
    """

    allowed: bool
    reason: str | None
    retrieval: Retrieval | None
    history: list[Turn] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)
    history_withheld: int = 0
    withheld_texts: list[str] = field(default_factory=list, repr=False)
    _shingles: Shingles | None = field(default=None, repr=False)

    @property
    def shingles(self) -> Shingles:
        """The word runs of `withheld_texts` (built once), for the last check."""
        if self._shingles is None:
            self._shingles = withheld_shingles(self.withheld_texts)
        return self._shingles

    @property
    def sent_ids(self) -> list[str]:
        """Chunk ids of the passages that go to the cloud."""
        return [p.hit.chunk_id for p in self.retrieval.passages] if self.retrieval else []


REPEATS_CONFIDENTIAL = "repeats a confidential passage"


def withheld_shingles(texts: Iterable[str]) -> Shingles:
    """Word runs of confidential text, minus those of the fixed instructions every prompt
    carries (a passage quoting them must not stop every request)."""
    template = "\n".join(m.content for m in build_messages("", []))
    return Shingles(texts, ignore=[SYSTEM_PROMPT, template])


class CloudGate:
    """Decides, per request, what the cloud model may see.

    Args:
        settings: the settings; the admin's run-time changes are read afresh here (so the
            gate holds whichever settings it is given), and the labels in force are those of
            the moment the gate is made: make one per request.
    """

    def __init__(self, settings: Settings) -> None:
        self.labels = CurrentLabels(settings)
        settings = effective_settings(settings)
        cloud = settings.cloud
        self.allowed = cloud.cloud_allowed
        self.has_key = cloud.openai_api_key is not None and bool(
            cloud.openai_api_key.get_secret_value().strip()
        )
        kinds = list(cloud.redact)
        if "redact" not in cloud.model_fields_set:
            kinds += list(cloud.redact_patterns)
        self.redactor = Redactor(kinds, cloud.redact_patterns)

    def availability(self) -> str | None:
        """Why the cloud cannot be used at all, or ``None`` when it can."""
        if self.labels.error:  # the file's path and the fix are for admins
            return (
                "The cloud model is switched off: the admin settings cannot be read. An admin "
                "sees why on the Admin page or with `kbchat settings show`."
            )
        if not self.allowed:
            return (
                "The cloud model is switched off: an admin must allow it (KBCHAT_CLOUD_ALLOWED "
                "or the Admin page)."
            )
        if not self.has_key:
            return "OPENAI_API_KEY is not set: add it to .env or disable the cloud model."
        return None

    def is_confidential(self, passage: Passage) -> bool:
        """Whether a passage must stay in the company: its document's current label is
        confidential, or the passage was indexed as confidential (its text stays so until a
        re-ingest replaces it)."""
        label = str(passage.hit.metadata.get("sensitivity", "")).lower()
        return label == "confidential" or self.labels.is_confidential(passage.source)

    def turn_is_confidential(self, turn: Turn) -> bool:
        """Whether an earlier exchange drew on a document that is confidential now (checked
        at every request, so a relabel after the answer counts) or was marked so."""
        return turn.used_confidential or any(self.labels.is_confidential(s) for s in turn.sources)

    def any_confidential(self, passages: Iterable[Passage]) -> bool:
        """Whether any of these passages must stay in the company (by the current rules)."""
        return any(self.is_confidential(p) for p in passages)

    def taint(self, history: Sequence[Turn]) -> list[bool]:
        """For each turn, oldest first: whether it is tainted, i.e. it or an earlier turn
        drew on a confidential passage (by its mark, or its passages judged now)."""
        tainted = False
        marks = []
        for turn in history:
            tainted = (
                tainted or self.turn_is_confidential(turn) or self.any_confidential(turn.passages)
            )
            marks.append(tainted)
        return marks

    def review(self, retrieval: Retrieval, history: Sequence[Turn] = ()) -> GateDecision:
        """Decide what of this question, its passages and the conversation may be sent."""
        unavailable = self.availability()
        if unavailable:
            return GateDecision(False, unavailable, None)
        counts: Counter[str] = Counter()

        def clean(text: str) -> str:
            result = self.redactor.redact(text)
            counts.update(result.counts)
            return result.text

        withheld = [
            Withheld(p, "confidential") for p in retrieval.passages if self.is_confidential(p)
        ]
        earlier_confidential = [
            p.hit.text for turn in history for p in turn.passages if self.is_confidential(p)
        ]
        withheld_texts = [w.passage.hit.text for w in withheld] + earlier_confidential
        shingles = withheld_shingles(withheld_texts)
        kept: list[Passage] = []
        for passage in retrieval.passages:
            if self.is_confidential(passage):
                continue
            if shingles.found_in(passage.hit.text):
                withheld.append(Withheld(passage, REPEATS_CONFIDENTIAL))
                continue
            meta = dict(passage.hit.metadata)
            if meta.get("section"):
                meta["section"] = clean(str(meta["section"]))
            hit = SearchHit(
                passage.hit.chunk_id,
                clean(passage.hit.text),
                meta,
                passage.hit.score,
                passage.hit.dense_rank,
                passage.hit.keyword_rank,
                passage.hit.dense_score,
            )
            kept.append(Passage(passage.n, hit))
        withheld.sort(key=lambda w: w.passage.n)
        turns = [
            Turn(clean(turn.question), clean(turn.answer))
            for turn, tainted in zip(history, self.taint(history), strict=True)
            if not tainted and not shingles.found_in(f"{turn.question}\n{turn.answer}")
        ]
        question = clean(retrieval.question)
        decision = GateDecision(
            allowed=bool(kept) or not retrieval.passages,
            reason=None,
            retrieval=replace(retrieval, question=question, passages=kept),
            history=turns,
            withheld=withheld,
            redactions=counts,
            history_withheld=len(history) - len(turns),
            withheld_texts=withheld_texts,
            _shingles=shingles,
        )
        if retrieval.passages and not kept:
            decision.reason = (
                "Every passage found for this question is confidential, so the cloud model "
                "was not asked."
            )
        return decision

    def check_prompt(self, messages: Sequence[ChatMessage], decision: GateDecision) -> None:
        """Last check of the assembled prompt before it is sent.

        Raises:
            CloudNotAllowedError: the prompt holds withheld text or an unredacted value.
        """
        sent = "\n".join(m.content for m in messages)
        if decision.shingles.found_in(sent):
            raise CloudNotAllowedError(
                "The cloud request was stopped: it contained text of a confidential passage."
            )
        leftovers = self.redactor.findings(sent)
        if leftovers:
            kinds = ", ".join(sorted(leftovers))
            raise CloudNotAllowedError(
                f"The cloud request was stopped: it still contained values to redact ({kinds})."
            )
