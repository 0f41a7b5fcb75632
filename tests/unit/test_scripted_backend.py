"""The scripted stand-in answers by rule from the prompt kbchat writes, and says it is one."""

from __future__ import annotations

from pathlib import Path

from kbchat.answerers import SCRIPTED_NOTICE, private_answerer
from kbchat.answering.prompt import Passage, build_messages
from kbchat.llm.base import ChatMessage
from kbchat.llm.factory import build_private_backend
from kbchat.llm.scripted import NOT_COVERED, ScriptedBackend, first_sentence
from tests.conftest import make_settings
from vectorstore.records import SearchHit


def _passage(n: int, text: str, source: str) -> Passage:
    # A section path holds ">", as the headings of a Markdown page give it.
    metadata = {"source": source, "section": "Leave Policy > How much leave you get"}
    return Passage(n, SearchHit(chunk_id=f"c{n}", text=text, metadata=metadata, score=1.0))


def test_it_cites_the_first_sentence_of_the_leading_passages() -> None:
    messages = build_messages(
        "How much leave do I get?",
        [
            _passage(1, "Staff get 25 days of annual leave.\nCarry-over is five days.", "hr/a.md"),
            _passage(2, "Leave is booked in the HR portal. Ask your manager.", "hr/b.md"),
            _passage(3, "Never quoted: only two passages are.", "hr/c.md"),
        ],
    )
    reply = "".join(ScriptedBackend().stream_chat(messages, max_tokens=100, temperature=0.0))
    assert reply == "Staff get 25 days of annual leave [1]. Leave is booked in the HR portal [2]."


def test_without_passages_it_says_the_documents_do_not_cover_it() -> None:
    messages = build_messages("What is the VPN client called?", [])
    assert "".join(ScriptedBackend().stream_chat(messages, max_tokens=50, temperature=0)) == (
        NOT_COVERED
    )


def test_given_replies_come_in_turn_and_the_last_repeats() -> None:
    backend = ScriptedBackend(["first", "second answer"])
    chat = [ChatMessage("user", "anything")]
    said = ["".join(backend.stream_chat(chat, max_tokens=10, temperature=0)) for _ in range(3)]
    assert said == ["first", "second answer", "second answer"]
    assert backend.requests == [chat, chat, chat]


def test_a_text_without_a_sentence_end_is_its_own_first_sentence() -> None:
    assert first_sentence("  a heading\nand more  ") == "a heading and more"
    assert first_sentence("Ends here. Not this.") == "Ends here."


def test_the_engine_setting_selects_it_and_every_answer_says_so(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, local={"local_engine": "scripted", "local_n_ctx": 2048})
    backend, resolved = build_private_backend(settings.local)
    assert isinstance(backend, ScriptedBackend) and resolved is None
    assert backend.context_window == 2048
    answerer, _ = private_answerer(settings)
    assert answerer.notice == SCRIPTED_NOTICE and answerer.fallback  # the pages show it


def test_a_company_server_wins_over_the_engine_and_has_no_notice(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        local={"local_engine": "scripted"},
        private_server={"private_base_url": "http://127.0.0.1:9/v1"},
    )
    backend, _ = build_private_backend(settings.local, server=settings.private_server)
    assert not isinstance(backend, ScriptedBackend)
    answerer, _ = private_answerer(settings)
    assert answerer.notice is None
