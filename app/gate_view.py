"""What the cloud policy gate kept from ChatGPT and what it redacted, shown plainly."""

from __future__ import annotations

from collections import Counter

import streamlit as st

from app.render import label_markdown
from kbchat.answering.citations import location
from kbchat.policy.gate import GateDecision

# How redaction kinds read on screen (other kinds are configured names, shown as they are).
KIND_NAMES = {
    "email": ("e-mail address", "e-mail addresses"),
    "phone": ("phone number", "phone numbers"),
    "id": ("ID-like number", "ID-like numbers"),
    "secret": ("secret or key", "secrets or keys"),
}
NOTHING_WITHHELD = "Nothing was withheld from ChatGPT: it got the same passages."
NOTHING_REDACTED = "Nothing needed redacting."


def redaction_text(redactions: Counter[str]) -> str:
    """Redaction counts as a sentence: ``2 e-mail addresses, 1 phone number``."""
    parts = []
    for kind, count in sorted(redactions.items()):
        if count <= 0:
            continue
        one, many = KIND_NAMES.get(kind, (f"{kind} value", f"{kind} values"))
        parts.append(f"{count} {one if count == 1 else many}")
    return ", ".join(parts)


def withheld_lines(decision: GateDecision) -> list[str]:
    """One plain-text line per withheld passage: ``[n] source › section — reason``."""
    lines = []
    for w in decision.withheld:
        p = w.passage
        lines.append(f"[{p.n}] {location(p.source, p.section, p.page)} — {w.reason}")
    return lines


def render_gate(decision: GateDecision | None) -> None:
    """The withheld passages (source, reason) and the redaction counts of one cloud request.

    Shows nothing when the gate did not look at the passages (the cloud is unavailable:
    the reason is shown where ChatGPT's answer would be).
    """
    if decision is None or (decision.retrieval is None and not decision.withheld):
        return
    lines = withheld_lines(decision)
    if lines:
        items = "\n".join(f"- {label_markdown(line)}" for line in lines)
        count = f"{len(lines)} passage{'s' if len(lines) != 1 else ''}"
        st.warning(
            f"**Withheld from ChatGPT ({count}, never sent):**\n\n{items}",
            icon=":material/lock:",
        )
    else:
        st.caption(NOTHING_WITHHELD)
    if decision.history_withheld:
        n = decision.history_withheld
        st.caption(
            f"{n} earlier exchange{'s' if n != 1 else ''} of this conversation "
            f"{'were' if n != 1 else 'was'} kept from ChatGPT: the conversation drew on a "
            "confidential passage."
        )
    redacted = redaction_text(decision.redactions)
    if redacted:
        st.info(
            label_markdown(f"Redacted before sending to ChatGPT: {redacted}."),
            icon=":material/visibility_off:",
        )
    else:
        st.caption(NOTHING_REDACTED)
