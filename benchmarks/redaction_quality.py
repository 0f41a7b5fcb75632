"""Precision and recall of redaction per kind, kbchat's patterns against well-kept libraries.

On the labelled set tests/data/redaction_cases.jsonl (positives with the values that must go,
negatives that must stay: dates, prices, versions, order numbers, ISBNs, ordinary text):

- kbchat: the shipped `Redactor` (all four kinds on, as the gate runs it);
- detect-secrets 1.5 plugins for the ``secret`` kind, line by line as a config file
  (``adhoc.yaml``: the keyword plugin's most permissive mode), with its pattern plugins alone
  and with its two entropy plugins added (Base64 limit 4.5, hex 3.0, its defaults);
- phonenumbers (libphonenumber) for the ``phone`` kind: `PhoneNumberMatcher`, regions GB, US,
  DE and FR together, at leniency POSSIBLE and VALID; alone on the raw text, and "after
  kbchat" (on the text with kbchat's secrets, e-mails and ids already taken out, as it would
  run if it replaced only kbchat's phone finder).

A value counts as found only when the detector's spans of that kind cover all of it (what is
left uncovered would reach the cloud); a span that covers no labelled value of its kind is a
false positive. The libraries are optional (``pip install detect-secrets phonenumbers``); a
missing one is reported and skipped.

Usage: python benchmarks/redaction_quality.py [--cases tests/data/redaction_cases.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from kbchat.policy.redaction import Redactor  # noqa: E402

CASES = ROOT / "tests" / "data" / "redaction_cases.jsonl"
KINDS = ("email", "phone", "id", "secret")
Detector = Callable[[str], Iterable[tuple[int, int]]]


@dataclass
class Score:
    """Counts for one detector and one kind."""

    values: int = 0
    found: int = 0
    spans: int = 0
    true_spans: int = 0
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.values if self.values else float("nan")

    @property
    def precision(self) -> float:
        return self.true_spans / self.spans if self.spans else float("nan")


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def value_spans(text: str, values: list[str]) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for value in values:
        start = text.index(value, pos)
        spans.append((start, start + len(value)))
        pos = start + len(value)
    return spans


def covered(span: tuple[int, int], found: list[tuple[int, int]]) -> bool:
    wanted = set(range(*span))
    for start, end in found:
        wanted -= set(range(start, end))
    return not wanted


def score(cases: list[dict[str, Any]], kind: str, detect: Detector) -> Score:
    result = Score()
    for case in cases:
        text = case["text"]
        values = case["values"] if case["kind"] == kind else []
        truth = value_spans(text, values)
        found = sorted(set(detect(text)))
        result.values += len(truth)
        for span, value in zip(truth, values, strict=True):
            if covered(span, found):
                result.found += 1
            else:
                result.missed.append(value)
        for start, end in found:
            result.spans += 1
            if any(start < t_end and t_start < end for t_start, t_end in truth):
                result.true_spans += 1
            else:
                result.wrong.append(text[start:end])
    return result


def kbchat_detector(kind: str) -> Detector:
    redactor = Redactor(list(KINDS))

    def detect(text: str) -> list[tuple[int, int]]:
        return [(f.start, f.end) for f in redactor.find(text) if f.kind == kind]

    return detect


def detect_secrets_detector(entropy: bool) -> Detector | None:
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    limits = {"Base64HighEntropyString": 4.5, "HexHighEntropyString": 3.0}
    skip = {"IPPublicDetector"} | (set() if entropy else set(limits))
    with default_settings():
        plugins = [
            cls(limit=limits[cls.__name__]) if cls.__name__ in limits else cls()
            for cls in get_mapping_from_secret_type_to_class().values()
            if cls.__name__ not in skip
        ]

    def detect(text: str) -> list[tuple[int, int]]:
        spans = []
        offset = 0
        with default_settings():
            for line in text.split("\n"):
                for plugin in plugins:
                    for secret in plugin.analyze_line(
                        filename="adhoc.yaml", line=line, line_number=1
                    ):
                        value = secret.secret_value or ""
                        at = line.find(value) if value else -1
                        if at >= 0:
                            spans.append((offset + at, offset + at + len(value)))
                offset += len(line) + 1
        return spans

    return detect


def phonenumbers_detector(valid: bool, after_kbchat: bool = False) -> Detector | None:
    try:
        import phonenumbers
    except ImportError:
        return None
    leniency = phonenumbers.Leniency.VALID if valid else phonenumbers.Leniency.POSSIBLE
    others = Redactor(["secret", "email", "id"])

    def detect(text: str) -> list[tuple[int, int]]:
        if after_kbchat:  # as it would run in kbchat: secrets, e-mails and ids already gone
            for finding in others.find(text):
                width = finding.end - finding.start
                text = text[: finding.start] + "X" * width + text[finding.end :]
        spans = set()
        for region in ("GB", "US", "DE", "FR"):
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency):
                spans.add((match.start, match.end))
        return sorted(spans)

    return detect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--show", action="store_true", help="list missed and wrong values")
    args = parser.parse_args()
    cases = load(args.cases)
    positives = sum(1 for c in cases if c["kind"])
    print(f"{len(cases)} cases: {positives} positive, {len(cases) - positives} negative\n")
    rows: list[tuple[str, str, Detector | None]] = [
        *((kind, "kbchat", kbchat_detector(kind)) for kind in KINDS),
        ("secret", "detect-secrets (pattern plugins)", detect_secrets_detector(False)),
        ("secret", "detect-secrets (+ entropy plugins)", detect_secrets_detector(True)),
        ("phone", "phonenumbers (POSSIBLE)", phonenumbers_detector(False)),
        ("phone", "phonenumbers (VALID)", phonenumbers_detector(True)),
        ("phone", "phonenumbers (POSSIBLE, after kbchat)", phonenumbers_detector(False, True)),
        ("phone", "phonenumbers (VALID, after kbchat)", phonenumbers_detector(True, True)),
    ]
    print(f"{'kind':8}{'detector':40}{'values':>7}{'recall':>8}{'spans':>7}{'precision':>10}")
    for kind, name, detect in rows:
        if detect is None:
            print(f"{kind:8}{name:40}  not installed")
            continue
        result = score(cases, kind, detect)
        print(
            f"{kind:8}{name:40}{result.values:>7}{result.recall:>8.2f}{result.spans:>7}"
            f"{result.precision:>10.2f}"
        )
        if args.show:
            for value in result.missed:
                print(f"{'':10}missed: {value[:70]!r}")
            for value in result.wrong:
                print(f"{'':10}wrong:  {value[:70]!r}")
        report("privacy", f"redaction {kind}: {name}",
               f"P {result.precision:.2f} / R {result.recall:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
