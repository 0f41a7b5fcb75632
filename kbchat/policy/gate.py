"""The cloud policy gate: what may be sent to the cloud model, decided after retrieval.

Guarantees, for every request to the cloud:
- nothing is sent unless an admin allows the cloud and a key is configured;
- no passage of a document whose current label is confidential is sent (the label as it is
  now: admin label, front matter, path rules, strictest wins, confidential when it cannot be
  determined; `kbchat.policy.labels`), nor a passage indexed as confidential, nor an earlier
  answer that drew on such a document (its sources are checked again at each request); the
  user is told what was withheld;
- configured redactions are applied to everything sent (question, passages, history);
- the fully assembled prompt is checked once more just before it is sent: a withheld
  passage's text or an unredacted value there stops the request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from kbchat.answering.prompt import Passage
from kbchat.answering.service import Retrieval, Turn
from kbchat.errors import CloudNotAllowedError
from kbchat.llm.base import ChatMessage
from kbchat.overrides import effective_settings
from kbchat.policy.labels import CurrentLabels
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
        history: earlier exchanges to send, redacted; turns that used confidential passages
            are left out.
        withheld: passages kept back, with reasons.
        redactions: how many values of each kind were redacted.
    """

    allowed: bool
    reason: str | None
    retrieval: Retrieval | None
    history: list[Turn] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)
    withheld_texts: list[str] = field(default_factory=list, repr=False)

    @property
    def sent_ids(self) -> list[str]:
        """Chunk ids of the passages that go to the cloud."""
        return [p.hit.chunk_id for p in self.retrieval.passages] if self.retrieval else []


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

        kept: list[Passage] = []
        withheld: list[Withheld] = []
        for passage in retrieval.passages:
            if self.is_confidential(passage):
                withheld.append(Withheld(passage, "confidential"))
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
        turns = [
            Turn(clean(turn.question), clean(turn.answer))
            for turn in history
            if not self.turn_is_confidential(turn)
        ]
        question = clean(retrieval.question)
        decision = GateDecision(
            allowed=bool(kept) or not retrieval.passages,
            reason=None,
            retrieval=replace(retrieval, question=question, passages=kept),
            history=turns,
            withheld=withheld,
            redactions=counts,
            withheld_texts=[w.passage.hit.text for w in withheld],
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
        for text in decision.withheld_texts:
            probe = text.strip()[:200]
            if probe and probe in sent:
                raise CloudNotAllowedError(
                    "The cloud request was stopped: it contained a confidential passage."
                )
        leftovers = self.redactor.findings(sent)
        if leftovers:
            kinds = ", ".join(sorted(leftovers))
            raise CloudNotAllowedError(
                f"The cloud request was stopped: it still contained values to redact ({kinds})."
            )
