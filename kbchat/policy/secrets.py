"""Secrets and keys: what the ``secret`` redaction finds.

Provider keys by their documented prefixes, values after a key word (``password:``,
``pwd=``, ``the password is …``), credentials in URLs, AWS secret access keys, and private key
blocks whole. Every pattern is anchored by a look-behind at the start of a token, so a search
reads each character a bounded number of times (linear in the text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ingest.keyblocks import key_blocks

_AWS_KEY_ID = r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}"
PROVIDER_KEYS = [
    r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}+",  # OpenAI
    rf"(?<![A-Za-z0-9]){_AWS_KEY_ID}(?![A-Za-z0-9])",  # AWS access key ids, temporary ones too
    r"(?<!\w)gh[pousr]_[A-Za-z0-9]{30,}+",  # GitHub classic tokens
    r"(?<!\w)github_pat_[A-Za-z0-9_]{22,}+",  # GitHub fine-grained tokens
    r"(?<!\w)(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}+",  # Stripe secret and restricted keys
    r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])",  # Google API keys
    r"(?<!\w)xox[abprse]-[A-Za-z0-9-]{10,}+",  # Slack
    r"(?<![\w-])eyJ[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]{10,}+\.[A-Za-z0-9_-]{10,}+",  # JWT
]
# The value after a key word: "password: …", "pwd=…", "api_key = …", "Passwort: …".
KEY_WORDS = (
    r"api[_ -]?key|apikey|secret(?:[_ -]?key)?|client[_ -]?secret|access[_ -]?token|"
    r"auth[_ -]?token|refresh[_ -]?token|token|password|passwort|passwd|passcode|kennwort|pwd"
)
KEY_VALUE = re.compile(
    rf"(?i)(?<![\w-])(?:{KEY_WORDS})[\"']?[ \t]{{0,3}}(?P<sep>[:=]|=>)[ \t]{{0,3}}"
    r"(?P<value>(?!\[REDACTED)[\"']?[^\s\"',;]{4,}+[\"']?)"
)
# "the password is …", "das Passwort ist …", "le mot de passe est …".
SAID_VALUE = re.compile(
    r"(?i)(?<!\w)(?:password|passwort|passcode|passphrase|pass phrase|kennwort|pin|"
    r"mot de passe)[ \t]{1,3}(?:is|was|will be|ist|lautet|war|est)[ \t]{1,3}"
    r"(?:now[ \t]{1,3}|still[ \t]{1,3}|set to[ \t]{1,3})?:?[ \t]?"
    r"(?P<quote>[\"'“‘«]?)(?P<value>(?!\[REDACTED)[^\s\"'”’»]{4,}+)"
)
URL_CREDENTIALS = re.compile(
    r"(?i)(?<![\w+.-])[a-z][a-z0-9+.-]{1,20}://(?P<value>[^\s:/@]{1,200}:[^\s@/]{1,200})@[\w.\[-]"
)
AWS_SECRET_NAMED = re.compile(
    r"(?i)aws_?secret(?:_?access)?_?key[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?"
    r"(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
)
_BASE64_40 = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_NEAR = re.compile(rf"(?i)(?<![A-Za-z0-9]){_AWS_KEY_ID}|\baws\b|amazon")
_TRAILING = ".,;:)"
AWS_CONTEXT_CHARS = 200


def secret_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of secrets in ``text`` (normalised), possibly overlapping, in no set order."""
    yield from key_blocks(text)
    for pattern in _PROVIDER_KEYS:
        for match in pattern.finditer(text):
            yield match.span()
    for match in KEY_VALUE.finditer(text):
        value = match.group("value")
        bare = value.strip("\"'")
        quoted = bare != value
        if match.group("sep") == ":" and not quoted and not _password_like(bare):
            continue  # "Password: at least twelve characters"
        yield match.span("value")
    for match in SAID_VALUE.finditer(text):
        start, end = match.span("value")
        while end > start and text[end - 1] in _TRAILING:
            end -= 1
        if end - start >= 4 and (match.group("quote") or _password_like(text[start:end])):
            yield start, end
    for pattern in (URL_CREDENTIALS, AWS_SECRET_NAMED):
        for match in pattern.finditer(text):
            yield match.span("value")
    for match in _BASE64_40.finditer(text):
        value = match.group(0)
        if not (any(c.isdigit() for c in value) and any(c.islower() for c in value)):
            continue
        if any(c.isupper() for c in value) and _AWS_NEAR.search(
            text, max(0, match.start() - AWS_CONTEXT_CHARS), match.end() + AWS_CONTEXT_CHARS
        ):
            yield match.span()


def _password_like(value: str) -> bool:
    """Has a digit or a symbol: "Summer2026!" is a password, "changed" is a word."""
    return any(not c.isalpha() for c in value)


_PROVIDER_KEYS = [re.compile(p) for p in PROVIDER_KEYS]
