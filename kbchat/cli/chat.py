"""``kbchat chat``: a conversation from the command line, by the chat page's own rules.

On a terminal it is an interactive chat; otherwise every line of standard input is a
question, answered in order within one conversation. A follow-up is retrieved with the
earlier questions and answered with the earlier exchanges as history, and the cloud model
gets only what the policy gate lets through, the conversation's taint included: all of it
through `kbchat.conversation`, as on the chat page. A line ``/model private|cloud|both``
switches who answers the following questions.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any, TextIO

import click

from kbchat.answering.service import Answer, Answerer, Retrieval
from kbchat.assistant import Assistant
from kbchat.cli.errors import user_errors
from kbchat.cli.options import acting_user_options
from kbchat.compare import CompareRun, Side
from kbchat.conversation import CHOICES, Choice, Exchange, carried_answer, history
from kbchat.errors import IndexEmptyError, KbchatError
from kbchat.identity import User, local_user
from kbchat.policy.gate import CloudGate
from kbchat.settings import Settings

PROMPT = "you> "
COMMANDS = "/model private|cloud|both switches who answers; /quit (or Ctrl-D) ends."
NOT_ASKED = "The cloud model was not asked."


class ChatSession:
    """One conversation of ``kbchat chat``: reads lines, answers questions, prints answers.

    Args:
        settings: the settings in force when the chat starts (the model it names answers
            throughout); each question loads them again (`kbchat.overrides.load_settings`), as
            each run of the chat page does, so an admin's change holds from the next question.
        choice: who answers first.
        as_json: print one JSON object (one line) per answer, shaped as ``kbchat ask --json``.
        user: who asks (``--as``); the local user, who reads everything, by default.
    """

    def __init__(
        self, settings: Settings, choice: Choice, *, as_json: bool, user: User | None = None
    ) -> None:
        from kbchat.answerers import private_answerer

        self.base = settings
        self.user = user or local_user()
        self.choice: Choice = choice
        self.as_json = as_json
        self.exchanges: list[Exchange] = []
        self.private, _resolved = private_answerer(settings)
        self._cloud: Answerer | None = None
        self.session = f"kbchat chat {uuid.uuid4().hex[:12]}"
        self.unanswered = 0
        self.ended = False

    def _settings_now(self) -> Settings:
        """The settings in force for this question: loaded again, so that an admin's change
        made during the conversation (the cloud switched off) holds from the next question."""
        from kbchat.settings_loading import load_settings

        return load_settings()

    def _cloud_answerer(self, config: Settings) -> Answerer:
        if self._cloud is None:
            from kbchat.answerers import cloud_answerer

            self._cloud = cloud_answerer(config)
        return self._cloud

    def handle(self, line: str) -> None:
        """One line: a command (``/model …``, ``/quit``), a question, or nothing (blank)."""
        text = line.strip()
        if not text:
            return
        if text.startswith("/"):
            self._command(text)
        else:
            self.ask(text)

    def _command(self, text: str) -> None:
        name, *args = text.split()
        if name in ("/quit", "/exit"):
            self.ended = True
        elif name == "/model" and len(args) == 1 and args[0] in CHOICES:
            self.choice = args[0]
            click.echo(f"(answering with: {self.choice})", err=True)
        else:
            click.echo(f"Unknown command {text!r}: {COMMANDS}", err=True)

    def ask(self, question: str) -> Exchange:
        """Answer a question as the next exchange of the conversation (through the answering
        service, `kbchat.assistant.Assistant`, as the chat page does).

        Raises:
            IndexEmptyError: nothing has been ingested (no question can be answered).
        """
        config = self._settings_now()
        earlier = history(self.exchanges, CloudGate(config))
        exchange = Exchange(question, choice=self.choice)
        self.exchanges.append(exchange)
        retrieval: Retrieval | None = None
        cloud = None if CloudGate(config).availability() else self._cloud_answerer(config)
        assistant = Assistant(config, private=self.private, cloud=cloud)
        try:
            retrieval = assistant.retrieve(question, earlier, user=self.user)
            run = assistant.answer(
                retrieval, earlier, user=self.user, models=exchange.choice, session=self.session
            )
            exchange.compared = run.result
            if exchange.choice == "both":
                self._both(exchange, config, run)
            else:
                self._one(exchange, run)
        except IndexEmptyError:
            raise
        except KbchatError as err:
            exchange.error = str(err)
            self._failed(exchange, retrieval)
        if exchange.error is not None:
            self.unanswered += 1
        return exchange

    def _failed(self, exchange: Exchange, retrieval: Retrieval | None) -> None:
        if not self.as_json:
            click.echo(f"Error: {exchange.error}", err=True)
            return
        label = "private" if exchange.choice == "private" else "cloud"
        model = (
            self.private.backend.model_name if label == "private" else self.base.cloud.cloud_model
        )
        failed = Answer(label, model, error=exchange.error)  # type: ignore[arg-type]
        empty = retrieval or Retrieval(exchange.question, [], False, 0.0)
        self._emit(self._payload(empty, [failed]))

    def _payload(
        self, retrieval: Retrieval, answers: list[Answer], *args: Any, **extra: Any
    ) -> dict[str, Any]:
        from kbchat.cli.output import ask_payload

        payload = ask_payload(retrieval, answers, *args, **extra)
        payload["turn"] = len(self.exchanges)
        return payload

    def _emit(self, payload: dict[str, Any]) -> None:
        click.echo(json.dumps(payload, ensure_ascii=False, default=str))

    def _one(self, exchange: Exchange, run: CompareRun) -> None:
        """One model answers (the private one, or the cloud's through the gate)."""
        from kbchat.cli.output import print_figures, print_sources, stream_one

        side: Side = "private" if exchange.choice == "private" else "cloud"
        result = run.result
        stream_one(run, side, self.as_json)
        answer: Answer | None = getattr(result, side)
        if answer is None or side in result.errors:
            exchange.error = result.errors.get(side) or result.refused or NOT_ASKED
            if result.refused is not None and answer is None:
                if self.as_json:
                    payload = self._payload(
                        result.retrieval, [], result.decision, refused=exchange.error
                    )
                    self._emit(payload)
                else:
                    click.echo(f"{NOT_ASKED[:-1]}: {exchange.error}", err=True)
                return
            raise KbchatError(exchange.error)
        exchange.answer = answer
        if self.as_json:
            self._emit(self._payload(result.retrieval, [answer], result.decision))
            return
        click.echo()
        print_sources(answer)
        print_figures(answer, result.retrieval.seconds)

    def _both(self, exchange: Exchange, config: Settings, run: CompareRun) -> None:
        from kbchat.cli.output import compared_answers, print_both

        result = run.run()
        exchange.answer = carried_answer(result)
        answers = compared_answers(
            result, self.private.backend.model_name, config.cloud.cloud_model
        )
        if all(a.error for a in answers):
            exchange.error = "; ".join(f"{a.backend}: {a.error}" for a in answers)
        if self.as_json:
            agreement = None if result.agreement is None else round(result.agreement, 3)
            payload = self._payload(
                result.retrieval,
                answers,
                result.decision,
                agreement=agreement,
                wall_s=round(result.wall_s, 3),
            )
            self._emit(payload)
            return
        print_both(result, answers, None, as_json=False)

    def run(self, lines: TextIO, *, interactive: bool) -> None:
        """Answer every line until the input ends (or ``/quit``)."""
        if interactive:
            click.echo(f"kbchat chat, answering with: {self.choice}. {COMMANDS}", err=True)
        if self.private.notice and not self.as_json:
            click.echo(f"Note: {self.private.notice}", err=True)
        while not self.ended:
            if interactive:
                try:
                    line = input(PROMPT)
                except EOFError:
                    click.echo(err=True)
                    return
            else:
                line = lines.readline()
                if not line:
                    return
            self.handle(line)


@click.command("chat")
@click.option(
    "--model",
    "which",
    type=click.Choice(CHOICES),
    default="private",
    show_default=True,
    help="Who answers first: the private model, the cloud model (when allowed), or both side "
    "by side. A line '/model private|cloud|both' switches.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object per answer, on one line, shaped as 'kbchat ask --json' "
    "(with the turn number).",
)
@acting_user_options
@click.pass_obj
def chat(settings: Settings, which: str, as_json: bool, user: User) -> None:
    """A conversation about the documents: follow-up questions see the earlier ones.

    On a terminal, an interactive chat. Otherwise one question per line of standard input,
    answered in order within one conversation; the exit status is 1 when a question got no
    answer. History, follow-ups and the policy gate work as on the chat page: once the
    conversation has drawn on a confidential passage, the cloud model gets none of it.

    \b
    Examples:
      kbchat chat
      printf 'How many days of leave do I get?\\nAnd can I carry them over?\\n' | kbchat chat
      printf 'Leave days?\\n/model cloud\\nAnd carry over?\\n' | kbchat chat --json
    """
    stdin = sys.stdin
    interactive = stdin.isatty() and sys.stdout.isatty() and not as_json
    try:
        with user_errors():
            session = ChatSession(settings, which, as_json=as_json, user=user)  # type: ignore[arg-type]
            session.run(stdin, interactive=interactive)
    except KeyboardInterrupt:
        click.echo(err=True)
        sys.exit(130)
    if session.unanswered and not interactive:
        sys.exit(1)
