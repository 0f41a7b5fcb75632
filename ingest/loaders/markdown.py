"""Markdown: YAML front matter, then sections split at #, ## and ### headings."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import yaml
from langchain_text_splitters import MarkdownHeaderTextSplitter

from ingest.loaders.base import (
    LoadedDocument,
    LoadError,
    Section,
    build_document,
    clean_text,
    humanise_stem,
    short_reason,
)
from ingest.textio import read_text

_LEVELS = (("#", "h1"), ("##", "h2"), ("###", "h3"))
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_ATX = re.compile(r"^\s{0,3}(#{1,6})(?:\s(.*))?$")
_ATX_CLOSING = re.compile(r"(?:^|\s+)#+$")
_SETEXT = re.compile(r"^\s{0,3}(={2,}|-{2,})\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_BLOCK_START = re.compile(r"^\s*([-*+>|]|\d+[.)])")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_EMPHASIS = re.compile(r"\*\*|__|`|(?<![\w*])[*_](?=\S)|(?<=\S)[*_](?![\w*])")
_NOISE = re.compile(
    r"(back to (the )?top|return to top|go to top|top of (the )?page|top|toc|\[\[_toc_\]\]"
    r"|\$\{toc\}|table of contents|edit this page|edit on github|print this page"
    r"|skip to (main )?content)",
    re.IGNORECASE,
)
_NOISE_STRIP = " \t*_[]()↑⬆▲^⇧«»|#"
_DEEP_HEADING = re.compile(r"^#{4,6}\s+", re.MULTILINE)
_MAX_VALUE_ITEMS = 50


def load(path: Path, data: bytes) -> LoadedDocument:
    """Load a Markdown file.

    Args:
        path: The file (its stem is the fallback title).
        data: Its bytes.

    Returns:
        The document, with front matter as metadata. A page with no text whose front matter
        holds ``redirect_to: URL`` is one passage "<title> has moved to <URL>".

    Raises:
        LoadError: Undecodable text or invalid front matter.
        NoTextError: No text (only front matter, or blank space) and no redirect.
    """
    metadata, body = split_front_matter(read_text(path, data))
    lines, first_h1 = _normalise(_COMMENT.sub("", body).split("\n"))
    splitter = MarkdownHeaderTextSplitter(list(_LEVELS), strip_headers=True)
    sections = []
    for chunk in splitter.split_text("\n".join(lines)):
        # The splitter joins paragraphs with "  \n"; our paragraphs are "\n"-separated.
        text = _DEEP_HEADING.sub("", chunk.page_content.replace("  \n", "\n"))
        path_parts = (str(chunk.metadata.get(name, "")).strip() for _, name in _LEVELS)
        sections.append(Section(clean_text(text), tuple(part for part in path_parts if part)))
    title = metadata.get("title", "").strip() or first_h1 or humanise_stem(path)
    target = metadata.get("redirect_to", "").strip()
    if target and not any(section.text.strip() for section in sections):
        sections = [_redirect_section(title, target)]
    no_text = "only front matter" if metadata else "" if body.strip() else "only blank space"
    return build_document(
        title=title, fmt="markdown", sections=sections, metadata=metadata, no_text=no_text
    )


def _redirect_section(title: str, target: str) -> Section:
    """The one passage of a page that only redirects (front matter ``redirect_to: URL``).

    Such a page has no text of its own; indexing where it went lets a user who searches for
    the old page find the new address instead of nothing.
    """
    return Section(f"{' '.join(title.split())} has moved to {target}", ())


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Separate YAML front matter (between leading "---" lines) from the Markdown body.

    Args:
        text: The whole file.

    Returns:
        The front matter as strings with lower-cased keys, and the body.

    Raises:
        LoadError: The front matter is not closed, not valid YAML, or not a mapping.
    """
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise LoadError("invalid YAML front matter: no closing '---' line")
    try:
        parsed = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.MarkedYAMLError as exc:
        line = f" (line {exc.problem_mark.line + 2})" if exc.problem_mark else ""
        raise LoadError(f"invalid YAML front matter: {exc.problem or exc.context}{line}") from exc
    except Exception as exc:  # e.g. ValueError for an impossible date
        raise LoadError(f"invalid YAML front matter: {short_reason(exc)}") from exc
    if parsed is None:
        parsed = {}
    if not isinstance(parsed, dict):
        kind = "a list" if isinstance(parsed, list) else "plain text"
        raise LoadError(f"invalid YAML front matter: expected 'key: value' lines, got {kind}")
    fields = {str(key).strip().lower(): _as_text(value) for key, value in parsed.items()}
    return fields, "\n".join(lines[end + 1 :])


def _as_text(value: object, depth: int = 0) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if depth >= 2 and isinstance(value, (list, dict)):
        return "…"  # deep or self-referencing (YAML alias) structures stay bounded
    if isinstance(value, list):
        return ", ".join(_as_text(item, depth + 1) for item in value[:_MAX_VALUE_ITEMS])
    if isinstance(value, dict):
        items = list(value.items())[:_MAX_VALUE_ITEMS]
        return ", ".join(f"{key}: {_as_text(item, depth + 1)}" for key, item in items)
    return str(value).strip()


def _normalise(lines: list[str]) -> tuple[list[str], str]:
    """Canonical ATX headings, setext headings converted, rules and template noise dropped.

    Returns:
        The lines, and the text of the first level-1 heading ("" when none).
    """
    out: list[str] = []
    first_h1 = ""
    for line, in_code in _with_fences(lines):
        if in_code:
            out.append(line)
            continue
        heading = _ATX.match(line)
        setext = _SETEXT.match(line)
        if heading:
            text = _plain(_ATX_CLOSING.sub("", (heading.group(2) or "").strip()))
            line = f"{heading.group(1)} {text}".rstrip()
        elif setext and out and _is_paragraph_line(out[-1]):
            line = f"{'#' if setext.group(1)[0] == '=' else '##'} {_plain(out.pop().strip())}"
        elif _RULE.match(line) or _is_noise(line):
            continue
        if line.startswith("# ") and not first_h1:
            first_h1 = line[2:].strip()
        out.append(line)
    return out, first_h1


def _with_fences(lines: list[str]) -> Iterator[tuple[str, bool]]:
    """Yield each line with whether it belongs to a fenced code block (fences included)."""
    fence = ""
    for line in lines:
        marker = _FENCE.match(line)
        if fence:
            if marker and marker.group(1) == fence:
                fence = ""
            yield line, True
        elif marker:
            fence = marker.group(1)
            yield line, True
        else:
            yield line, False


def _is_paragraph_line(line: str) -> bool:
    return bool(line.strip()) and not line.startswith("#") and not _BLOCK_START.match(line)


def _is_noise(line: str) -> bool:
    visible = _TAG.sub("", _LINK.sub(r"\1", line)).strip(_NOISE_STRIP)
    return bool(visible) and _NOISE.fullmatch(visible) is not None


def _plain(text: str) -> str:
    """Heading text without links, emphasis markers or inline HTML."""
    return " ".join(_EMPHASIS.sub("", _TAG.sub("", _LINK.sub(r"\1", text))).split())
