"""Comparisons as a page keeps them between reruns (the Compare page and "Both" in the chat)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

import streamlit as st

from kbchat.compare import Comparison

Side = Literal["private", "cloud"]
SIDES: tuple[Side, Side] = ("private", "cloud")
TITLES: dict[Side, str] = {"private": "Private model", "cloud": "ChatGPT"}
VERDICT_LABELS = {
    "private": "Private better",
    "cloud": "ChatGPT better",
    "tie": "Tie",
    "both_wrong": "Both wrong",
}
_STATE = "kbchat_comparisons"


@dataclass
class ShownComparison:
    """One question answered side by side (or by the private model alone), as shown."""

    comparison: Comparison
    """The core's result; filled in place while the answers stream."""
    models: dict[str, str]
    """Display name of the model of each side (known before any answer arrives)."""
    private_notice: str | None = None
    """What to tell users about the private model (a stand-in answers), if anything."""
    unavailable: str | None = None
    """Why ChatGPT was not offered (then only the private model answers), if it was not."""
    refused: str | None = None
    """Why the policy gate did not let the question go to ChatGPT, if it did not."""
    finished: bool = False
    """False while streaming, and for a run that a rerun interrupted."""
    comparison_id: int | None = None
    """Row of the comparison in the ledger (judgements attach to it)."""
    record_error: str | None = None
    """Why the comparison could not be recorded, if it could not."""
    verdict: str | None = None
    """The judgement saved for it, if any (a key of `VERDICT_LABELS`)."""
    judgement_error: str | None = None
    """Why the last judgement could not be saved, if it could not."""
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Stable id for widget keys."""

    @property
    def question(self) -> str:
        """The question asked."""
        return self.comparison.question

    @property
    def cloud_offered(self) -> bool:
        """Whether ChatGPT was asked to answer (or was refused by the gate)."""
        return self.unavailable is None


def session_comparisons() -> list[ShownComparison]:
    """The Compare page's comparisons of this session, oldest first (a live list)."""
    if _STATE not in st.session_state:
        st.session_state[_STATE] = []
    found: list[ShownComparison] = st.session_state[_STATE]
    return found
