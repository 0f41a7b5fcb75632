"""How ``kbchat ask`` and ``kbchat chat`` show an answer: streamed text, sources, figures,
what the cloud gate withheld, and the ``--json`` object (`emit_json`, which every
``--json`` of the CLI prints through).

Both commands (`kbchat.cli.ask`, `kbchat.cli.chat`) print through these functions, so an
answer reads the same in either.
"""

from __future__ import annotations

import json
from typing import Any

import click


def emit_json(data: object) -> None:
    """Print data as indented JSON (what ``--json`` prints)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def ask_json(retrieval: Any, answers: list[Any], decision: Any | None = None, **extra: Any) -> None:
    """Print `ask_payload`'s object."""
    emit_json(ask_payload(retrieval, answers, decision, **extra))


def compared_answers(result: Any, private_model: str, cloud_model: str) -> list[Any]:
    """Both answers of a comparison, each with its error (or the gate's refusal) on it."""
    from kbchat.answering.service import Answer

    answers = [result.private or Answer("private", private_model)]
    answers[0].error = answers[0].error or result.errors.get("private")
    cloud = result.cloud or Answer("cloud", cloud_model)
    cloud.error = cloud.error or result.errors.get("cloud")
    if result.cloud is None and result.decision is not None and result.decision.reason:
        cloud.error = result.decision.reason
    answers.append(cloud)
    return answers


def print_both(result: Any, answers: list[Any], notice: str | None, as_json: bool) -> None:
    """Both answers of a comparison, one after the other, and how much they agree."""
    retrieval = result.retrieval
    if as_json:
        ask_json(
            retrieval,
            answers,
            result.decision,
            agreement=None if result.agreement is None else round(result.agreement, 3),
            wall_s=round(result.wall_s, 3),
        )
        return
    if notice:
        click.echo(f"Note: {notice}", err=True)
    if result.decision is not None:
        print_withheld(result.decision)
    for answer in answers:
        click.echo(f"== {answer.backend}: {answer.model}")
        click.echo(answer.error if answer.error and not answer.text else answer.text)
        print_sources(answer)
        print_figures(answer)
        click.echo()
    if result.agreement is not None:
        click.echo(f"Agreement between the answers: {result.agreement:.0%}")


def stream_one(run: Any, side: str, as_json: bool) -> None:
    """Run one model's answer to the end; on a terminal, print what the gate withheld before
    the answer, the waiting notices, and the text as it is written (``kbchat ask``/``chat``)."""
    result = run.result
    shown_gate = False

    def follow(event: Any) -> None:
        nonlocal shown_gate
        if as_json:
            return
        if not shown_gate and result.decision is not None and event.kind != "refused":
            print_withheld(result.decision)
            shown_gate = True
        if event.kind == "waiting":
            click.echo(f"(waiting for the model: {event.text} request(s) ahead)", err=True)
        elif event.kind == "delta":
            click.echo(event.text, nl=False)

    for _ in run.deltas(side, follow):
        pass


def ask_payload(
    retrieval: Any, answers: list[Any], decision: Any | None = None, **extra: Any
) -> dict[str, Any]:
    """The object ``kbchat ask --json`` prints (``kbchat chat --json`` prints one per answer)."""
    from kbchat.knowledge import passage_dict

    payload: dict[str, Any] = {
        "question": retrieval.question,
        "passages": [passage_dict(p.hit, p.n) for p in retrieval.passages],
        "retrieval_s": round(retrieval.seconds, 3),
        "answers": [a.to_dict() for a in answers],
    }
    # What the cloud policy gate kept back and redacted (nothing when only the private model ran).
    payload["withheld"] = [w.to_dict() for w in decision.withheld] if decision else []
    payload["redactions"] = dict(decision.redactions) if decision else {}
    # Earlier exchanges kept from the cloud (the conversation's taint; only in kbchat chat).
    payload["history_withheld"] = decision.history_withheld if decision else 0
    payload.update(extra)
    return payload


def print_sources(answer: Any) -> None:
    """The passages an answer cited, one line each, with where they are in their document."""
    from kbchat.answering.citations import location

    if answer.citations:
        click.echo("\nSources:")
        for c in answer.citations:
            click.echo(f"  [{c.n}] {location(c.source, c.section, c.page)}")


def print_figures(answer: Any, retrieval_s: float | None = None) -> None:
    """One line on stderr: the model, its timings, cost and groundedness."""
    stats = answer.stats
    if stats is None:
        return
    rate = f", {stats.tokens_per_s:.1f} tokens/s" if stats.tokens_per_s else ""
    first = f"first token {stats.ttft_s:.2f} s, " if stats.ttft_s is not None else ""
    cost = f", about ${answer.cost_usd:.5f}" if answer.cost_usd is not None else ""
    ground = f", groundedness {answer.groundedness:.0%}" if answer.groundedness is not None else ""
    tail = f"; retrieval {retrieval_s:.2f} s" if retrieval_s is not None else ""
    click.echo(
        f"({answer.model}: {first}{stats.seconds:.2f} s in all{rate}{cost}{ground}{tail})",
        err=True,
    )


def print_withheld(decision: Any) -> None:
    """What the cloud gate kept back or redacted, on stderr, before the cloud's answer."""
    for item in decision.withheld:
        click.echo(
            f"Withheld from the cloud: [{item.passage.n}] {item.passage.source} ({item.reason})",
            err=True,
        )
    if decision.redactions:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(decision.redactions.items()))
        click.echo(f"Redacted before sending: {counts}", err=True)
    if decision.history_withheld:
        click.echo(
            f"Withheld from the cloud: {decision.history_withheld} earlier exchange(s) of this "
            "conversation (it drew on a confidential passage).",
            err=True,
        )
