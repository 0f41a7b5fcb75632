"""The automatic pairwise judge: which of two answers to one question is better.

The judge is any OpenAI-compatible chat model (`kbchat.settings.JudgeSettings`; by default the
cloud model). It sees the question, the passages both models answered from and the two
answers, labelled A and B, and replies with JSON: ``{"verdict": "A" | "B" | "tie" |
"both_wrong", "reason": "..."}``. Every pair is judged twice, the second time with the answers
swapped, because judges favour a position; when the two orders disagree the verdict is a tie.
A reply that is not such JSON is *unparseable*: it is recorded as such and counted nowhere.

Where a pair may be sent, and what is recorded, is `kbchat.judging`'s business; this module
only builds the prompt, asks, and reads the reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from kbchat.errors import ModelError
from kbchat.llm.base import ChatMessage
from kbchat.llm.openai_compat import OpenAICompatBackend, describe_openai_error, import_openai
from kbchat.settings import Settings

Side = Literal["private", "cloud"]
LABELS = ("A", "B", "tie", "both_wrong")
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": list(LABELS)},
        "reason": {"type": "string"},
    },
    "required": ["verdict", "reason"],
    "additionalProperties": False,
}
JUDGE_SYSTEM = (
    "You are a strict, impartial judge of answers to employees' questions about company "
    "documents. You get the question, the numbered passages both assistants were given, and "
    "two answers, A and B. The better answer is the one that answers the question correctly "
    "and completely from the passages, cites them, and invents nothing. Length and order do "
    "not matter. Say 'tie' when they are equally good, 'both_wrong' when neither answers "
    "the question correctly.\n"
    'Reply with JSON only, on one line: {"verdict": "A" | "B" | "tie" | "both_wrong", '
    '"reason": "<one sentence>"}'
)
MAX_PASSAGE_CHARS = 1500  # per passage: the judge needs the gist, not every page
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
CallHook = Callable[[Side, int, int, "ModelError | None"], None]


@dataclass(frozen=True)
class EvidencePassage:
    """A passage as the judge sees it."""

    n: int
    source: str
    text: str


@dataclass(frozen=True)
class JudgeCase:
    """One comparison to judge: the question, the shared passages and both answers."""

    question: str
    passages: Sequence[EvidencePassage]
    private: str
    cloud: str


def judge_messages(case: JudgeCase, first: Side) -> list[ChatMessage]:
    """The judge's prompt, with ``first``'s answer as A."""
    second: Side = "cloud" if first == "private" else "private"
    answers = {"private": case.private, "cloud": case.cloud}
    passages = "\n\n".join(
        f"[{p.n}] ({p.source})\n{p.text[:MAX_PASSAGE_CHARS]}" for p in case.passages
    )
    user = (
        f"Question:\n{case.question}\n\n"
        f"Passages:\n{passages or '(none were found)'}\n\n"
        f"<answer_a>\n{answers[first]}\n</answer_a>\n\n"
        f"<answer_b>\n{answers[second]}\n</answer_b>\n\n"
        "Which answer is better? Reply with the JSON verdict only."
    )
    return [ChatMessage("system", JUDGE_SYSTEM), ChatMessage("user", user)]


def parse_reply(text: str) -> tuple[str, str] | None:
    """The label (A, B, tie, both_wrong) and reason of a judge's reply, or None.

    The reply must hold one JSON object with a known ``verdict``; text around it (a model
    that adds a sentence or a code fence) is ignored. Labels are read case-insensitively and
    ``both wrong`` / ``both-wrong`` are accepted.
    """
    found = _JSON_OBJECT.search(text or "")
    if found is None:
        return None
    try:
        data = json.loads(found.group(0))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    raw = str(data.get("verdict", "")).strip()
    normal = re.sub(r"[\s-]+", "_", raw.lower())
    label = {"a": "A", "b": "B", "tie": "tie", "both_wrong": "both_wrong"}.get(normal)
    if label is None:
        return None
    reason = " ".join(str(data.get("reason") or "").split())
    return label, reason


def to_verdict(label: str, first: Side) -> str:
    """One order's label as a ledger verdict: ``private``, ``cloud``, ``tie``, ``both_wrong``."""
    if label == "A":
        return first
    if label == "B":
        return "cloud" if first == "private" else "private"
    return label


def combine(first: str, second: str) -> str:
    """The verdict of both orders: theirs when they agree, else a tie."""
    return first if first == second else "tie"


@dataclass
class OrderReply:
    """What the judge said with one order of the answers."""

    first: Side
    text: str
    verdict: str | None
    reason: str
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass
class JudgeOutcome:
    """Both orders' replies and the verdict (None when a reply was unparseable)."""

    model: str
    replies: list[OrderReply] = field(default_factory=list)

    @property
    def parsed(self) -> bool:
        """Whether both replies were valid verdicts."""
        return len(self.replies) == 2 and all(r.verdict is not None for r in self.replies)

    @property
    def verdict(self) -> str | None:
        """The combined verdict, or None when a reply was unparseable."""
        if not self.parsed:
            return None
        return combine(cast(str, self.replies[0].verdict), cast(str, self.replies[1].verdict))

    @property
    def reason(self) -> str:
        """The reason given with the first order (or what went wrong)."""
        if not self.parsed:
            bad = next(r for r in self.replies if r.verdict is None)
            return f"unparseable reply: {bad.text[:200]!r}"
        first, second = self.replies
        if first.verdict != second.verdict:
            return (
                f"the orders disagree ({first.verdict} with the private answer first, "
                f"{second.verdict} with ChatGPT's first): counted as a tie"
            )
        return first.reason

    @property
    def tokens_in(self) -> int:
        """Prompt tokens of both calls."""
        return sum(r.tokens_in for r in self.replies)

    @property
    def tokens_out(self) -> int:
        """Reply tokens of both calls."""
        return sum(r.tokens_out for r in self.replies)

    def to_dict(self) -> dict[str, Any]:
        """As plain data (``kbchat judge --json``, ``kbchat eval --judge``)."""
        return {
            "judge_model": self.model,
            "verdict": self.verdict,
            "status": "ok" if self.parsed else "unparseable",
            "reason": self.reason,
            "orders": [
                {"first": r.first, "verdict": r.verdict, "reason": r.reason, "reply": r.text}
                for r in self.replies
            ],
        }


class JudgeEndpoint(OpenAICompatBackend):
    """The judge model's endpoint: one non-streamed, JSON-constrained completion per order."""

    def __init__(self, settings: Settings) -> None:
        judge, cloud = settings.judge, settings.cloud
        secret = judge.judge_api_key or cloud.openai_api_key
        model = judge.judge_model or cloud.cloud_model
        super().__init__(
            judge.judge_base_url or cloud.openai_base_url,
            secret.get_secret_value() if secret else None,
            model,
            display_name=model,
            context_window=128_000,
            timeout_s=judge.judge_timeout_s,
            max_retries=cloud.cloud_max_retries,
            key_env="KBCHAT_JUDGE_API_KEY" if judge.judge_api_key else "OPENAI_API_KEY",
        )
        self.private = judge.judge_private
        self.max_tokens = judge.judge_max_tokens
        self.response_format = judge.judge_response_format

    def _format(self) -> dict[str, Any] | None:
        if self.response_format == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True},
            }
        if self.response_format == "json_object":
            return {"type": "json_object", "schema": VERDICT_SCHEMA}
        return None

    def complete(self, messages: Sequence[ChatMessage]) -> tuple[str, int, int]:
        """The judge's reply to one prompt, with prompt and reply tokens.

        Raises:
            ModelError: the endpoint failed (the message says how to fix it, without the key).
        """
        openai = import_openai()
        client = self._get_client()
        extra: dict[str, Any] = {}
        response_format = self._format()
        if response_format is not None:
            extra["response_format"] = response_format
        try:
            response = client.chat.completions.create(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],  # type: ignore[misc]
                max_tokens=self.max_tokens,
                temperature=0.0,
                **extra,
            )
        except openai.OpenAIError as exc:
            raise ModelError(
                self._scrub(f"The judge: {describe_openai_error(exc, self)}")
            ) from None
        text = (response.choices[0].message.content or "") if response.choices else ""
        usage = response.usage
        tokens_in = int(usage.prompt_tokens) if usage else 0
        tokens_out = int(usage.completion_tokens or 0) if usage else 0
        return text, tokens_in, tokens_out

    def judge(self, case: JudgeCase, *, after_call: CallHook | None = None) -> JudgeOutcome:
        """Judge one pair in both orders (private first, then ChatGPT first).

        Args:
            case: the pair.
            after_call: called after each of the two requests with the order, the tokens, and
                the error if it failed (the audit log's hook).

        Raises:
            ModelError: the endpoint failed.
        """
        outcome = JudgeOutcome(self.model_name)
        for first in ("private", "cloud"):
            side = cast(Side, first)
            try:
                text, tokens_in, tokens_out = self.complete(judge_messages(case, side))
            except ModelError as err:
                if after_call is not None:
                    after_call(side, 0, 0, err)
                raise
            if after_call is not None:
                after_call(side, tokens_in, tokens_out, None)
            parsed = parse_reply(text)
            outcome.replies.append(
                OrderReply(
                    first=side,
                    text=text,
                    verdict=None if parsed is None else to_verdict(parsed[0], side),
                    reason="" if parsed is None else parsed[1],
                    tokens_in=tokens_in,
                    tokens_out=tokens_out,
                )
            )
        return outcome
