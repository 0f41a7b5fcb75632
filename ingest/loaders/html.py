"""HTML (BeautifulSoup): page chrome removed, text split into sections at h1-h3."""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, FeatureNotFound, ProcessingInstruction
from bs4.element import NavigableString, PageElement, Tag

from ingest.loaders.base import (
    LoadedDocument,
    SectionBuilder,
    build_document,
    humanise_stem,
    render_table,
)
from ingest.loaders.limits import DEFAULT_LIMITS, LoaderLimits, check_html
from ingest.textio import read_text

_CHROME_TAGS = (
    "head", "title", "script", "style", "noscript", "template", "nav", "aside", "form", "iframe",
    "svg",
)  # fmt: skip
_PAGE_CHROME_TAGS = ("header", "footer")  # chrome unless in article/main/section
_CONTENT_ANCESTORS = ("article", "main", "section")
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "search", "menu", "menubar"}
_CHROME_NAME_PARTS = re.compile(r"cookie|consent|gdpr|breadcrumb|navbar|menubar|sidebar|skip-?link")
_CHROME_NAME_WORDS = {"nav", "menu", "navigation", "toc"}
_NEVER_REMOVED = {"html", "body", "main", "article"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3}
_BLOCKS = {
    "address", "article", "blockquote", "body", "caption", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "h4", "h5", "h6", "hr", "legend", "li",
    "main", "ol", "p", "section", "summary", "td", "th", "tr", "ul",
}  # fmt: skip
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)


def load(path: Path, data: bytes, limits: LoaderLimits = DEFAULT_LIMITS) -> LoadedDocument:
    """Load an HTML page as text sections.

    Args:
        path: The file (its stem is the fallback title).
        data: Its bytes.
        limits: Its largest size, element count and nesting (checked before parsing).

    Returns:
        The document, sections carrying their h1-h3 heading path.

    Raises:
        LoadError: Undecodable content.
        NoTextError: No body text (only navigation, scripts, markup).
        LimitExceededError: Over one of ``limits``.
    """
    check_html(data, limits)
    soup = _parse(read_text(path, data))
    page_title = " ".join(soup.title.get_text().split()) if soup.title else ""
    _remove_chrome(soup)
    walker = _Walker()
    walker.walk(soup.body or soup)
    title = page_title or walker.first_h1 or humanise_stem(path)
    return build_document(
        title=title, fmt="html", sections=walker.builder.sections(), no_text="no body text"
    )


def _parse(text: str) -> BeautifulSoup:
    try:
        return BeautifulSoup(text, "lxml")
    except FeatureNotFound:
        return BeautifulSoup(text, "html.parser")


def _remove_chrome(soup: BeautifulSoup) -> None:
    """Drop comments and page chrome (menus, banners, scripts...) from the tree."""
    doomed: list[PageElement] = []
    stack: list[tuple[Tag, bool]] = [(soup, False)]  # (element, inside article/main/section)
    while stack:
        tag, in_content = stack.pop()
        for child in tag.children:
            if isinstance(child, _SKIPPED_STRINGS):
                doomed.append(child)
            elif isinstance(child, Tag):
                if _is_chrome(child, in_content):
                    doomed.append(child)
                else:
                    stack.append((child, in_content or child.name in _CONTENT_ANCESTORS))
    for element in doomed:
        element.extract()


def _is_chrome(tag: Tag, in_content: bool) -> bool:
    if tag.name in _CHROME_TAGS:
        return True
    if tag.name in _PAGE_CHROME_TAGS:
        return not in_content
    if tag.name in _NEVER_REMOVED:
        return False
    attrs = tag.attrs or {}
    if attrs.get("role") in _CHROME_ROLES or "hidden" in attrs:
        return True
    if attrs.get("aria-hidden") == "true" or _hidden_by_style(str(attrs.get("style", ""))):
        return True
    classes = attrs.get("class") or ""
    class_names = classes.split() if isinstance(classes, str) else [str(c) for c in classes]
    names = " ".join([str(attrs.get("id", "")), *class_names]).lower()
    words = set(re.split(r"[^a-z0-9]+", names))
    return bool(_CHROME_NAME_PARTS.search(names) or words & _CHROME_NAME_WORDS)


def _hidden_by_style(style: str) -> bool:
    compact = style.replace(" ", "").lower()
    return "display:none" in compact or "visibility:hidden" in compact


class _Walker:
    """Walks the tree in document order, feeding paragraphs and headings to a builder."""

    def __init__(self) -> None:
        self.builder = SectionBuilder()
        self.first_h1 = ""
        self._line: list[str] = []

    def walk(self, root: Tag) -> None:
        """Visit every node under root in document order (iteratively: pages nest deeply)."""
        stack: list[PageElement | None] = list(reversed(list(root.children)))
        while stack:
            node = stack.pop()
            if node is None:  # the end of a block element
                self._flush()
            elif isinstance(node, NavigableString):
                self._line.append(str(node))
            elif isinstance(node, Tag):
                stack.extend(self._visit(node))
        self._flush()

    def _visit(self, node: Tag) -> list[PageElement | None]:
        """Handle one element; return what to visit next, in reverse order."""
        if node.name in _HEADINGS:
            self._heading(node)
        elif node.name == "table" and not node.find(["table", *_HEADINGS]):
            self._flush()
            self.builder.paragraph("\n".join(render_table(_table_rows(node))))
        elif node.name == "pre":
            self._flush()
            self.builder.paragraph(node.get_text())
        elif node.name == "br":
            self._flush()
        else:
            children: list[PageElement | None] = list(reversed(list(node.children)))
            if node.name in _BLOCKS or node.name == "table":
                self._flush()
                return [None, *children]
            return children
        return []

    def _heading(self, node: Tag) -> None:
        self._flush()
        text = " ".join(node.get_text(" ").split())
        if node.name == "h1" and not self.first_h1:
            self.first_h1 = text
        self.builder.heading(_HEADINGS[node.name], text)

    def _flush(self) -> None:
        text = " ".join("".join(self._line).split())
        self._line.clear()
        self.builder.paragraph(text)


def _table_rows(table: Tag) -> list[list[str]]:
    rows = []
    for row in table.find_all("tr"):
        cells = row.find_all(["th", "td"], recursive=False)
        rows.append([" ".join(cell.get_text(" ").split()) for cell in cells])
    return rows
