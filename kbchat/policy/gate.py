"""The cloud policy gate: what may be sent to the cloud model, decided after retrieval.

Guarantees, for every request to the cloud:
- nothing is sent unless an admin allows the cloud and a key is configured;
- no passage labelled confidential (at ingestion, or by the current path rules) is sent, nor
  an earlier answer that drew on one; the user is told what was withheld;
- configured redactions are applied to everything sent (question, passages, history);
- the fully assembled prompt is checked once more just before it is sent: a withheld
  passage's text or an unredacted value there stops the request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ingest.sensitivity import matches_any
from kbchat.answering.prompt import Passage
from kbchat.answering.service import Retrieval, Turn
from kbchat.errors import CloudNotAllowedError
from kbchat.llm.base import ChatMessage
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
        settings: effective settings (with the admin's run-time changes applied).
    """

    def __init__(self, settings: Settings) -> None:
        cloud = settings.cloud
        self.allowed = cloud.cloud_allowed
        self.has_key = cloud.openai_api_key is not None and bool(
            cloud.openai_api_key.get_secret_value().strip()
        )
        self.confidential_paths = list(settings.ingest.confidential_paths)
        kinds = list(cloud.redact)
        if "redact" not in cloud.model_fields_set:
            kinds += list(cloud.redact_patterns)
        self.redactor = Redactor(kinds, cloud.redact_patterns)

    def availability(self) -> str | None:
        """Why the cloud cannot be used at all, or ``None`` when it can."""
        if not self.allowed:
            return (
                "The cloud model is switched off: an admin must allow it (KBCHAT_CLOUD_ALLOWED "
                "or the Admin page)."
            )
        if not self.has_key:
            return "OPENAI_API_KEY is not set: add it to .env or disable the cloud model."
        return None

    def is_confidential(self, passage: Passage) -> bool:
        """Whether a passage must stay in the company."""
        label = str(passage.hit.metadata.get("sensitivity", "")).lower()
        return label == "confidential" or matches_any(passage.source, self.confidential_paths)

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
            if not turn.used_confidential
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
