#!/usr/bin/env python
"""Generate the binary sample documents (PDF and DOCX) in docs_corpus/.

The text documents (Markdown, plain text, HTML, CSV) in docs_corpus/ are
written by hand and committed as they are. The PDFs and DOCX files are built
by this script from the sources in scripts/sample_docs/, one Markdown file per
document, so they can be edited and reviewed as text.

A source starts with YAML front matter between two "---" lines:

    output: travel/travel_and_expenses_policy.pdf   # under docs_corpus/; .pdf or .docx
    title: Travel and Expenses Policy
    subtitle: ...
    label: QUILLON INTERNAL      # PDFs only: footer label and PDF keywords
    created: 2025-12-15 10:00:00+00:00               # with a time zone
    subject: ...                 # document metadata

Its body uses a small part of Markdown; blank lines separate blocks:

    ## Section heading           (each section must fit on one PDF page)
    ### Sub-heading
    A paragraph; its lines are joined with single spaces.
    - A bullet; indented lines continue it.
    | Header | Header |          (a pipe table; the first row is the header row)
    |---|---|
    | Cell | Cell |

A "#" or "####" heading, "*" or "+" bullets, numbered lists, quotes, code
fences and text before the first section are errors that name the file and
line; so are bad front matter and, in a PDF source, non-Latin-1 text.

The output is deterministic: fixed creation dates, fixed metadata and fixed
ZIP timestamps, so re-running the script produces byte-identical files.

Usage:
    .venv/bin/python scripts/make_sample_docs.py [--out docs_corpus] [--sources DIR] [--check]

--check regenerates into a temporary directory and exits 1 if any file differs
from the committed copy (tests/unit/test_sample_docs.py runs it); a malformed
source exits 2.

Requires fpdf2 and python-docx. PDF text uses the core Helvetica font, so all
text of a PDF source must be Latin-1.
"""

from __future__ import annotations

import argparse
import filecmp
import io
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from docx import Document
from docx.shared import Pt
from fpdf import FPDF

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "docs_corpus"
DEFAULT_SOURCES = Path(__file__).resolve().parent / "sample_docs"

AUTHOR = "Quillon Systems Ltd"

# ============================ SOURCE PARSING ==============================


class SourceError(ValueError):
    """A sample document source that cannot be rendered; the message names file and line."""


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class SubHeading:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    rows: list[list[str]]  # the first row is the header row


Block = Paragraph | SubHeading | Bullets | Table


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: list[Block]


@dataclass(frozen=True)
class SampleDoc:
    source: Path
    path: str  # output path under docs_corpus/
    title: str
    subtitle: str
    label: str  # PDF only; "" for DOCX
    created: datetime
    subject: str
    sections: list[Section]


_REQUIRED_KEYS = ("output", "title", "subtitle", "created", "subject")
_SEPARATOR_ROW = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")
_UNSUPPORTED = re.compile(r"^(\* |\+ |> |```|\d+\. )")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _split_row(line: str, where: str) -> list[str]:
    if not line.endswith("|"):
        raise SourceError(f"{where}: a table row must start and end with '|'")
    return [cell.strip() for cell in line[1:-1].split("|")]


def _front_matter(text: str, name: str) -> tuple[dict[str, object], list[str], int]:
    lines = text.splitlines()
    if not lines or lines[0].rstrip() != "---":
        raise SourceError(f"{name}:1: the file must start with '---' and YAML front matter")
    try:
        end = next(i for i, line in enumerate(lines) if i and line.rstrip() == "---")
    except StopIteration:
        raise SourceError(f"{name}: the front matter has no closing '---' line") from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise SourceError(f"{name}: the front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise SourceError(f"{name}: the front matter must be a mapping of keys to values")
    return meta, lines[end + 1 :], end + 2


def _metadata(meta: dict[str, object], name: str) -> tuple[dict[str, str], datetime]:
    output = meta.get("output")
    if not isinstance(output, str) or Path(output).suffix not in (".pdf", ".docx"):
        raise SourceError(f"{name}: output must be a path ending in .pdf or .docx, not {output!r}")
    if Path(output).is_absolute() or ".." in Path(output).parts:
        raise SourceError(f"{name}: output must be a relative path inside docs_corpus/")
    is_pdf = output.endswith(".pdf")
    needed = [*_REQUIRED_KEYS, "label"] if is_pdf else list(_REQUIRED_KEYS)
    unknown = sorted(str(key) for key in meta if key not in needed)
    if unknown:
        raise SourceError(
            f"{name}: unknown front matter key(s) {', '.join(unknown)}; "
            f"expected {', '.join(needed)}"
            + (" (label is for PDFs only)" if "label" in unknown else "")
        )
    missing = [key for key in needed if key not in meta]
    if missing:
        raise SourceError(f"{name}: the front matter is missing {', '.join(missing)}")
    created = meta["created"]
    if not isinstance(created, datetime) or created.tzinfo is None:
        raise SourceError(
            f"{name}: created must be a date and time with a time zone, "
            f"such as 2026-01-09 14:00:00+00:00, not {created!r}"
        )
    values = {}
    for key in needed:
        value = meta[key]
        if key != "created":
            if not isinstance(value, str) or not value.strip():
                raise SourceError(f"{name}: {key} must be non-empty text, not {value!r}")
            values[key] = value
    return values, created.astimezone(UTC)


def _check_latin1(text: str, where: str) -> None:
    for char in text:
        if ord(char) > 0xFF:
            raise SourceError(
                f"{where}: {char!r} (U+{ord(char):04X}) is not Latin-1; PDF text uses the "
                "core Helvetica font, so write it another way"
            )


def load_source(path: Path) -> SampleDoc:
    """Parse one Markdown + YAML source; raise SourceError naming the file and line."""
    name = _display(path)
    meta, body, first_line = _front_matter(path.read_text(encoding="utf-8"), name)
    values, created = _metadata(meta, name)
    is_pdf = values["output"].endswith(".pdf")

    sections: list[Section] = []
    kind = ""  # the open block: "p", "bullets", "table" or ""
    lines: list[str] = []
    start = 0  # the line number of the open block's first line

    def close() -> None:
        nonlocal kind, lines
        if not kind:
            return
        block: Block
        if kind == "p":
            block = Paragraph(" ".join(lines))
        elif kind == "bullets":
            block = Bullets(lines)
        else:
            if len(lines) < 2 or not _SEPARATOR_ROW.match(lines[1]):
                raise SourceError(
                    f"{name}:{start + 1}: a table needs a '|---|---|' line after its header row"
                )
            rows = [_split_row(row, f"{name}:{start}") for row in lines[:1]]
            for offset, row in enumerate(lines[2:], start=2):
                rows.append(_split_row(row, f"{name}:{start + offset}"))
                if len(rows[-1]) != len(rows[0]):
                    raise SourceError(
                        f"{name}:{start + offset}: this table row has {len(rows[-1])} cells, "
                        f"its header row {len(rows[0])}"
                    )
            block = Table(rows)
        sections[-1].blocks.append(block)
        kind, lines = "", []

    for number, line in enumerate(body, start=first_line):
        where = f"{name}:{number}"
        if not line.strip():
            close()
            continue
        if is_pdf:
            _check_latin1(line, where)
        heading = re.match(r"(#+) +(\S.*)$", line)
        if line.startswith("#") and (not heading or len(heading.group(1)) not in (2, 3)):
            raise SourceError(
                f"{where}: unknown block {line[:40]!r}: use '## ' for a section heading and "
                "'### ' for a sub-heading (the title is in the front matter)"
            )
        if _UNSUPPORTED.match(line):
            raise SourceError(
                f"{where}: unknown block {line[:40]!r}: only paragraphs, '- ' bullets, "
                "'|' tables and '##'/'###' headings are supported"
            )
        if heading and len(heading.group(1)) == 2:
            close()
            sections.append(Section(heading.group(2).strip(), []))
        elif not sections:
            raise SourceError(f"{where}: text before the first '## ' section heading")
        elif heading:
            close()
            sections[-1].blocks.append(SubHeading(heading.group(2).strip()))
        elif line.startswith("- "):
            if kind != "bullets":
                close()
                kind, start = "bullets", number
            lines.append(line[2:].strip())
        elif line.startswith("  ") and kind == "bullets":
            lines[-1] += " " + line.strip()
        elif line.startswith("|"):
            if kind != "table":
                close()
                kind, start = "table", number
            lines.append(line.strip())
        elif kind in ("", "p"):
            if not kind:
                kind, start = "p", number
            lines.append(line.strip())
        else:
            what = "bullet list" if kind == "bullets" else kind
            raise SourceError(
                f"{where}: leave a blank line between a {what} and the paragraph after it"
            )
    close()
    if not sections:
        raise SourceError(f"{name}: no '## ' section headings, so nothing to render")
    if is_pdf:
        for key in ("title", "subtitle", "label"):
            _check_latin1(values[key], f"{name}: {key}")
    return SampleDoc(
        source=path,
        path=values["output"],
        title=values["title"],
        subtitle=values["subtitle"],
        label=values.get("label", ""),
        created=created,
        subject=values["subject"],
        sections=sections,
    )


def load_sources(folder: Path) -> list[SampleDoc]:
    """Every *.md source in folder, in name order; two sources may not share an output."""
    docs = [load_source(path) for path in sorted(folder.glob("*.md"))]
    if not docs:
        raise SourceError(f"{_display(folder)}: no *.md sources found")
    seen: dict[str, Path] = {}
    for doc in docs:
        if doc.path in seen:
            raise SourceError(
                f"{_display(doc.source)}: output {doc.path} is also written by "
                f"{_display(seen[doc.path])}"
            )
        seen[doc.path] = doc.source
    return docs


# ================================ RENDERING ================================


class _PolicyPDF(FPDF):
    def __init__(self, doc: SampleDoc):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.doc = doc

    def header(self) -> None:
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 6, f"Quillon Systems Ltd  |  {self.doc.title}", new_x="LMARGIN", new_y="NEXT")
        self.ln(2)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 8, f"{self.doc.label}  |  Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _render_pdf_blocks(pdf: FPDF, blocks: list[Block]) -> None:
    width = pdf.epw
    for block in blocks:
        if isinstance(block, Paragraph):
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(width, 5, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif isinstance(block, SubHeading):
            pdf.set_font("Helvetica", "B", 11)
            pdf.multi_cell(width, 6, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif isinstance(block, Bullets):
            pdf.set_font("Helvetica", "", 10)
            for item in block.items:
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(width - 4, 5, "- " + item, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.5)
            pdf.ln(1.5)
        else:
            pdf.set_font("Helvetica", "", 9)
            ncols = len(block.rows[0])
            with pdf.table(
                col_widths=tuple([1] * ncols) if ncols != 2 else (2, 3),
                text_align="LEFT",
                line_height=5,
                first_row_as_headings=True,
            ) as table:
                for row in block.rows:
                    r = table.row()
                    for cell in row:
                        r.cell(cell)
            pdf.ln(3)


def build_pdf(doc: SampleDoc, out_dir: Path) -> Path:
    pdf = _PolicyPDF(doc)
    pdf.set_margins(20, 15, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_creation_date(doc.created)
    pdf.set_title(doc.title)
    pdf.set_author(AUTHOR)
    pdf.set_subject(doc.subject)
    pdf.set_creator("kbchat scripts/make_sample_docs.py")
    pdf.set_producer("fpdf2")
    pdf.set_keywords(doc.label.lower())
    pdf.set_lang("en-GB")
    pdf.alias_nb_pages()

    for index, section in enumerate(doc.sections):
        pdf.add_page()
        expected_page = index + 1
        if index == 0:
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(pdf.epw, 9, doc.title, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "I", 9)
            pdf.multi_cell(pdf.epw, 5, doc.subtitle, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(pdf.epw, 8, section.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        _render_pdf_blocks(pdf, section.blocks)
        if pdf.page_no() != expected_page:
            raise SourceError(
                f"{_display(doc.source)}: section {section.heading!r} overflowed onto page "
                f"{pdf.page_no()}; shorten it (each section is one page)"
            )

    target = out_dir / doc.path
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))
    return target


_ZIP_EPOCH = (2026, 1, 1, 0, 0, 0)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a ZIP (DOCX) with fixed timestamps so the bytes are reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o644 << 16
            new.create_system = 3
            dst.writestr(new, src.read(info.filename))
    return buf.getvalue()


def build_docx(doc: SampleDoc, out_dir: Path) -> Path:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)

    created = doc.created.replace(tzinfo=None)
    props = document.core_properties
    props.title = doc.title
    props.subject = doc.subject
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.comments = "Sample document generated by scripts/make_sample_docs.py"
    props.keywords = "quillon; internal"
    props.category = "Policy"
    props.revision = 1
    props.created = created
    props.modified = created
    props.last_printed = created

    document.add_heading(doc.title, level=1)
    document.add_paragraph().add_run(doc.subtitle).italic = True

    for section in doc.sections:
        document.add_heading(section.heading, level=2)
        for block in section.blocks:
            if isinstance(block, Paragraph):
                document.add_paragraph(block.text)
            elif isinstance(block, SubHeading):
                document.add_heading(block.text, level=3)
            elif isinstance(block, Bullets):
                for item in block.items:
                    document.add_paragraph(item, style="List Bullet")
            else:
                table = document.add_table(rows=0, cols=len(block.rows[0]))
                table.style = "Table Grid"
                for r_index, row in enumerate(block.rows):
                    cells = table.add_row().cells
                    for c_index, text in enumerate(row):
                        cells[c_index].text = text
                        if r_index == 0:
                            for run in cells[c_index].paragraphs[0].runs:
                                run.bold = True
                document.add_paragraph("")

    buf = io.BytesIO()
    document.save(buf)
    target = out_dir / doc.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_normalise_zip(buf.getvalue()))
    return target


def build_all(out_dir: Path, sources: Path = DEFAULT_SOURCES) -> list[Path]:
    """Render every source in sources into out_dir; return the files written."""
    return [
        build_pdf(doc, out_dir) if doc.path.endswith(".pdf") else build_docx(doc, out_dir)
        for doc in load_sources(sources)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: docs_corpus/)"
    )
    parser.add_argument(
        "--sources",
        type=Path,
        default=DEFAULT_SOURCES,
        help="folder of Markdown sources (default: scripts/sample_docs/)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary folder and compare with --out; exit 1 on any difference",
    )
    args = parser.parse_args(argv)

    try:
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                tmp_path = Path(tmp)
                built = build_all(tmp_path, args.sources)
                differing = []
                for path in built:
                    rel = path.relative_to(tmp_path)
                    committed = args.out / rel
                    if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                        differing.append(str(rel))
                if differing:
                    hint = "run scripts/make_sample_docs.py to rebuild"
                    print(f"out of date: {', '.join(differing)} ({hint})", file=sys.stderr)
                    return 1
                print(f"{len(built)} files up to date")
                return 0

        for path in build_all(args.out, args.sources):
            print(f"wrote {path.relative_to(args.out)}")
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
