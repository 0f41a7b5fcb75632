"""Values in real-world formats, private keys longer than a chunk, and folders named with
look-alike letters: none of them reaches the cloud, checked at the receiving end.

A real ingestion of a small corpus, real retrieval, the gate and the real ``openai`` client;
the "cloud" is the recording proxy, which keeps every request body and answers 503 (what
arrived is what matters here, not the answer). Every test here failed on dab0044.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from kbchat.answerers import private_answerer
from kbchat.audit import AuditLog
from kbchat.cloud_answer import start_cloud_answer
from kbchat.errors import KbchatError
from kbchat.knowledge import run_ingest
from kbchat.policy.gate import GateDecision
from kbchat.settings import RetrievalSettings, Settings
from tests.conftest import make_settings
from tests.fixtures.ports import free_port
from tests.fixtures.recording_proxy import ProxyControl, recording_proxy

pytestmark = [pytest.mark.security, pytest.mark.integration]

API_KEY = "sk-test-kbchat-security-0123456789"
KEY_LINE = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    + "\n".join(f"{KEY_LINE[:-3]}{i:03d}" for i in range(64))  # 64 lines: about 4 KB
    + "\n-----END RSA PRIVATE KEY-----"
)
PGP_LINE = "lQOYBF0tqfQBCADJvZtDp1Zn9xQ8Jm3sXh5VqY0fN2aB7cD9eF1gH3iJ5kL7mN9o"
# The values each document holds, as written there; none may arrive.
CONTACT_VALUES = [
    "josé.núñez@quillon.example",
    "info@bücher.de",
    "j.okafor＠quillon.example",
    "0113/496 0123",
    "0113–496–0124",
    "0113\u00a0496\u00a00125",
    "555-0100",
    "qs-004512",
]
CREDENTIAL_VALUES = [
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ASIAY34FZKBOKMUTVV7A",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW12345",
    "sk_live_51H8abcdEFGHijklMNOPqrstu",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "Summer2026!",
    "Sommer2026",
    "tr0ub4dor",
    "s3cr3tPass",
    PGP_LINE,
]
LOOKALIKE_FACT = "code name Kestrel"


def _write_contacts(root: Path) -> None:
    (root / "it").mkdir(parents=True)
    (root / "it" / "contacts.md").write_text(
        "# Service desk contacts\n\n"
        f"Payroll questions go to {CONTACT_VALUES[0]}; book orders to {CONTACT_VALUES[1]}. "
        f"The service desk lead is {CONTACT_VALUES[2]}.\n\n"
        f"Call the service desk on {CONTACT_VALUES[3]}, out of hours on {CONTACT_VALUES[4]}, "
        f"the night line {CONTACT_VALUES[5]} or the security desk on {CONTACT_VALUES[6]}. "
        f"Escalations are owned by employee {CONTACT_VALUES[7]}.\n",
        encoding="utf-8",
    )


def _write_credentials(root: Path) -> None:
    (root / "it").mkdir(parents=True)
    (root / "it" / "credentials.md").write_text(
        "# Service desk credentials (legacy page)\n\n"
        f"aws_secret_access_key = {CREDENTIAL_VALUES[0]}\n"
        f"The temporary key id is {CREDENTIAL_VALUES[1]}.\n"
        f"Build token: {CREDENTIAL_VALUES[2]}\n"
        f"Billing uses {CREDENTIAL_VALUES[3]} and maps use {CREDENTIAL_VALUES[4]}.\n"
        f"For the kiosk the password is {CREDENTIAL_VALUES[5]} and the Berlin kiosk has "
        f"Passwort: {CREDENTIAL_VALUES[6]}.\n"
        f"Legacy login: user=desk pwd={CREDENTIAL_VALUES[7]}\n"
        f"Database: postgres://desk:{CREDENTIAL_VALUES[8]}@db.internal:5432/desk\n\n"
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
        f"{PGP_LINE}\n=Xk2q\n-----END PGP PRIVATE KEY BLOCK-----\n",
        encoding="utf-8",
    )


def _write_deploy_key(root: Path) -> None:
    (root / "it").mkdir(parents=True)
    (root / "it" / "deploy_key.md").write_text(
        "# Service desk deploy key\n\nThe deploy key of the service desk portal:\n\n"
        f"{PRIVATE_KEY}\n\nRotate it every year.\n",
        encoding="utf-8",
    )


def _write_lookalike(root: Path) -> None:
    lookalike = root / "hr" / "priv\u0430te"  # Cyrillic а: looks like hr/private
    lookalike.mkdir(parents=True)
    (lookalike / "service_desk_bonus.md").write_text(
        "# Service desk bonus pool\n\nThe 2026 service desk bonus pool is 4.2 million pounds, "
        f"{LOOKALIKE_FACT}.\n",
        encoding="utf-8",
    )
    (root / "hr" / "service_desk_rota.md").write_text(
        "# Service desk rota\n\nThe service desk is staffed from 8:00 to 18:00 on weekdays.\n",
        encoding="utf-8",
    )


CORPORA = {
    "contacts": _write_contacts,
    "credentials": _write_credentials,
    "deploy_key": _write_deploy_key,
    "lookalike": _write_lookalike,
}


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Settings]:
    """One small index per corpus, so each test's question retrieves only its documents."""
    built = {}
    for name, write in CORPORA.items():
        tmp = tmp_path_factory.mktemp(f"redaction-leaks-{name}")
        write(tmp / "corpus")
        settings = make_settings(tmp, tmp / "corpus")
        report = run_ingest(settings)
        assert report.failed == [], report.failed
        built[name] = settings
    return built


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[Settings, ProxyControl]]:
    """Settings whose cloud is the recording proxy (answering 503), every passage retrieved.

    Whole passages (no context compression), so every value in them is put to the gate.
    """
    with recording_proxy(f"http://127.0.0.1:{free_port()}") as (proxy, control):
        control.fail_status = 503
        settings = make_settings(
            tmp_path,
            cloud={
                "cloud_allowed": True,
                "openai_api_key": API_KEY,
                "openai_base_url": f"{proxy}/v1",
                "cloud_max_retries": 0,
                "cloud_timeout_s": 30,
            },
        )
        settings.retrieval = RetrievalSettings(
            top_k=50, min_relevance=-1, compress_context=False, _env_file=None
        )
        yield settings, control


def _ask_cloud(
    settings: Settings, index: Settings, question: str, tmp_path: Path, top_k: int | None = None
) -> GateDecision:
    settings.paths = index.paths
    if top_k is not None:
        settings.retrieval = RetrievalSettings(
            top_k=top_k, min_relevance=-1, compress_context=False, _env_file=None
        )
    answerer, _ = private_answerer(settings)
    retrieval = answerer.retrieve(question)
    request = start_cloud_answer(settings, retrieval, audit=AuditLog(tmp_path / "audit.sqlite3"))
    if request.stream is not None:
        with suppress(KbchatError):  # the stand-in answers 503: what it received counts
            request.stream.consume()
    return request.decision


def _sent(control: ProxyControl) -> str:
    """Every message text that arrived at the cloud (decoded from the JSON bodies)."""
    assert control.requests, "the question reached the cloud"
    return "\n".join(
        str(message["content"]) for r in control.requests for message in r.json()["messages"]
    )


def test_contacts_in_real_world_formats_never_reach_the_cloud(
    cloud: tuple[Settings, ProxyControl], indexes: dict[str, Settings], tmp_path: Path
) -> None:
    settings, control = cloud
    question = "How do I contact the service desk?"
    decision = _ask_cloud(settings, indexes["contacts"], question, tmp_path)
    sent = _sent(control)
    assert "Call the service desk on" in sent, "the passage itself was sent"
    for value in CONTACT_VALUES:
        assert value not in sent, f"{value!r} reached the cloud"
    assert {"email", "phone", "id"} <= set(decision.redactions)


def test_credentials_in_real_world_formats_never_reach_the_cloud(
    cloud: tuple[Settings, ProxyControl], indexes: dict[str, Settings], tmp_path: Path
) -> None:
    settings, control = cloud
    question = "How do I log in to the service desk systems?"
    _ask_cloud(settings, indexes["credentials"], question, tmp_path)
    sent = _sent(control)
    assert "Service desk credentials" in sent, "the passage itself was sent"
    for value in CREDENTIAL_VALUES:
        assert value not in sent, f"{value!r} reached the cloud"
    assert "postgres://[REDACTED SECRET]@db.internal" in sent


def test_a_private_key_longer_than_a_chunk_never_reaches_the_cloud(
    cloud: tuple[Settings, ProxyControl], indexes: dict[str, Settings], tmp_path: Path
) -> None:
    settings, control = cloud
    assert len(PRIVATE_KEY) > 4000 > settings.ingest.chunk_size
    question = "What is the deploy key of the service desk portal?"
    # Three passages: the whole document once the key is one chunk; before, the key was cut
    # into several and only some of its pieces (none with both BEGIN and END) were sent.
    _ask_cloud(settings, indexes["deploy_key"], question, tmp_path, top_k=3)
    sent = _sent(control)
    assert "Rotate it every year" in sent or "deploy key" in sent
    for line in PRIVATE_KEY.splitlines()[1:-1]:
        assert line not in sent, "a line of the private key reached the cloud"
    assert "BEGIN RSA PRIVATE KEY" not in sent and "END RSA PRIVATE KEY" not in sent


def test_a_folder_named_with_a_lookalike_letter_stays_confidential(
    cloud: tuple[Settings, ProxyControl], indexes: dict[str, Settings], tmp_path: Path
) -> None:
    settings, control = cloud
    question = "How big is the service desk bonus pool?"
    decision = _ask_cloud(settings, indexes["lookalike"], question, tmp_path)
    withheld = [w.passage.source for w in decision.withheld]
    assert withheld == ["hr/priv\u0430te/service_desk_bonus.md"]
    sent = _sent(control)
    assert "staffed from 8:00" in sent, "the other passage was sent"
    assert LOOKALIKE_FACT not in sent
