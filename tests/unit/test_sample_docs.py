"""scripts/make_sample_docs.py: the committed PDF/DOCX match their Markdown sources."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from docx import Document
from pypdf import PdfReader

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_sample_docs.py"
SOURCES = ROOT / "scripts" / "sample_docs"
CORPUS = ROOT / "docs_corpus"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


msd = _load_script()


def _copy_sources(tmp_path: Path) -> Path:
    target = tmp_path / "sources"
    shutil.copytree(SOURCES, target)
    return target


def test_committed_documents_match_their_sources(capsys: pytest.CaptureFixture[str]) -> None:
    sources = sorted(SOURCES.glob("*.md"))
    assert len(sources) == 8
    assert msd.main(["--check"]) == 0
    assert capsys.readouterr().out.strip() == f"{len(sources)} files up to date"


@pytest.mark.parametrize(
    ("source", "output", "old", "new"),
    [
        (
            "travel_and_expenses_policy.md",
            "travel/travel_and_expenses_policy.pdf",
            "Navan",
            "Nevan",
        ),
        (
            "expense_approval_limits.md",
            "finance/expense_approval_limits.docx",
            "GBP 2,500",
            "GBP 2,600",
        ),
    ],
)
def test_check_fails_when_a_source_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, output: str, old: str, new: str
) -> None:
    sources = _copy_sources(tmp_path)
    edited = sources / source
    text = edited.read_text(encoding="utf-8")
    assert old in text and new not in text
    edited.write_text(text.replace(old, new, 1), encoding="utf-8")

    assert msd.main(["--sources", str(sources), "--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"out of date: {output} (")  # only the edited document differs

    out = tmp_path / "out"
    assert msd.main(["--sources", str(sources), "--out", str(out)]) == 0
    built = out / output
    assert built.read_bytes() != (CORPUS / output).read_bytes()
    if output.endswith(".pdf"):
        rendered = "\n".join(page.extract_text() for page in PdfReader(built).pages)
    else:
        document = Document(str(built))
        rendered = "\n".join(
            cell.text for table in document.tables for row in table.rows for cell in row.cells
        )
    assert new in rendered


def test_check_fails_when_a_committed_file_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert msd.main(["--out", str(tmp_path), "--check"]) == 1
    assert "out of date: " in capsys.readouterr().err


GOOD_PDF_SOURCE = """\
---
output: demo/demo.pdf
title: Demo
subtitle: A one-page demo.
label: PUBLIC
created: 2026-01-09 14:00:00+00:00
subject: Demo subject
---

## 1. Only section

A paragraph that is
joined with one space.

### A sub-heading

- first bullet
  continued
- second bullet

| Header | Value |
|---|---|
| a | |
"""


def test_a_source_parses_into_blocks(tmp_path: Path) -> None:
    path = tmp_path / "demo.md"
    path.write_text(GOOD_PDF_SOURCE, encoding="utf-8")
    doc = msd.load_source(path)
    assert (doc.path, doc.title, doc.label, doc.created.isoformat()) == (
        "demo/demo.pdf",
        "Demo",
        "PUBLIC",
        "2026-01-09T14:00:00+00:00",
    )
    [section] = doc.sections
    assert section.heading == "1. Only section"
    assert section.blocks == [
        msd.Paragraph("A paragraph that is joined with one space."),
        msd.SubHeading("A sub-heading"),
        msd.Bullets(["first bullet continued", "second bullet"]),
        msd.Table([["Header", "Value"], ["a", ""]]),
    ]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("### A sub-heading", "#### A sub-heading", r":15: unknown block '#### A sub-heading'"),
        ("- second bullet", "* second bullet", r":19: unknown block '\* second bullet'"),
        ("title: Demo", "title: [Demo", r": the front matter is not valid YAML"),
        ("title: Demo\n", "", r": the front matter is missing title"),
        ("label: PUBLIC", "labels: PUBLIC", r": unknown front matter key\(s\) labels"),
        (
            "created: 2026-01-09 14:00:00+00:00",
            "created: 2026-01-09 14:00:00",
            r": created must be a date and time with a time zone",
        ),
        (
            "output: demo/demo.pdf",
            "output: demo/demo.txt",
            r": output must be a path ending in \.pdf or \.docx",
        ),
        ("joined with one", "joined with \u2019one", r":13: '\u2019' \(U\+2019\) is not Latin-1"),
        ("|---|---|\n", "", r":22: a table needs a '\|---\|---\|' line after its header"),
        ("| a | |", "| a | b | c |", r":23: this table row has 3 cells, its header row 2"),
        ("## 1. Only section", "Stray text", r":10: text before the first '## ' section"),
    ],
)
def test_a_malformed_source_names_the_file_and_the_reason(
    tmp_path: Path, old: str, new: str, reason: str
) -> None:
    assert old in GOOD_PDF_SOURCE
    path = tmp_path / "broken.md"
    path.write_text(GOOD_PDF_SOURCE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(msd.SourceError, match=re.escape(str(path)) + reason):
        msd.load_source(path)


def test_main_reports_a_malformed_source_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = _copy_sources(tmp_path)
    broken = sources / "performance_review_guide.md"
    broken.write_text(broken.read_text(encoding="utf-8") + "\n# A second title\n", encoding="utf-8")
    assert msd.main(["--sources", str(sources), "--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {broken}:")
    assert "unknown block '# A second title'" in err


def test_non_latin1_text_is_allowed_in_a_docx_source(tmp_path: Path) -> None:
    path = tmp_path / "demo.md"
    text = GOOD_PDF_SOURCE.replace("demo.pdf", "demo.docx").replace("label: PUBLIC\n", "")
    path.write_text(text.replace("joined with one", "joined with \u2019one"), encoding="utf-8")
    doc = msd.load_source(path)
    msd.build_docx(doc, tmp_path / "out")
    rendered = [p.text for p in Document(str(tmp_path / "out" / "demo" / "demo.docx")).paragraphs]
    assert "A paragraph that is joined with \u2019one space." in rendered
