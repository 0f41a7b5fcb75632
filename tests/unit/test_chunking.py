from __future__ import annotations

import pytest

from ingest.chunking import ChunkingOptions, chunk_document, chunk_id, clean_text
from ingest.loaders import LoadedDocument, Section

pytestmark = pytest.mark.unit


def _doc(*sections: Section, title: str = "Travel policy") -> LoadedDocument:
    return LoadedDocument(title=title, format="pdf", sections=tuple(sections), metadata={})


def _chunks(document: LoadedDocument, size: int = 200, overlap: int = 20) -> list:
    return chunk_document(
        document,
        source="travel/policy.pdf",
        sensitivity="internal",
        file_hash="f" * 64,
        ingested_at="2026-11-29T00:00:00+00:00",
        options=ChunkingOptions(size, overlap),
    )


def test_metadata_carries_source_title_section_page_and_label() -> None:
    records = _chunks(_doc(Section("Book flights via the portal.", ("Booking", "Flights"), 2)))
    assert len(records) == 1
    meta = records[0].metadata
    assert meta["source"] == "travel/policy.pdf"
    assert meta["folder"] == "travel"
    assert meta["title"] == "Travel policy"
    assert meta["section"] == "Booking > Flights"
    assert meta["page"] == 2
    assert meta["sensitivity"] == "internal"
    assert meta["position"] == 0
    assert meta["format"] == "pdf"
    assert records[0].embed_text.startswith("Travel policy\nBooking > Flights\n\n")
    assert records[0].text == "Book flights via the portal."


def test_no_page_key_without_a_page() -> None:
    records = _chunks(_doc(Section("Some text.", ())))
    assert "page" not in records[0].metadata
    assert records[0].metadata["section"] == ""


def test_long_sections_are_split_within_the_size_and_keep_order() -> None:
    sentence = "Economy class applies to flights under six hours. "
    records = _chunks(_doc(Section(sentence * 30, ("Flights",))), size=200, overlap=20)
    assert len(records) > 5
    assert all(len(r.text) <= 200 for r in records)
    assert [r.metadata["position"] for r in records] == list(range(len(records)))


def test_ids_are_stable_and_change_with_content_or_position() -> None:
    first = _chunks(_doc(Section("Alpha.", ()), Section("Beta.", ())))
    again = _chunks(_doc(Section("Alpha.", ()), Section("Beta.", ())))
    assert [r.chunk_id for r in first] == [r.chunk_id for r in again]
    edited = _chunks(_doc(Section("Alpha.", ()), Section("Beta changed.", ())))
    assert first[0].chunk_id == edited[0].chunk_id
    assert first[1].chunk_id != edited[1].chunk_id
    assert len({r.chunk_id for r in first}) == 2
    h = str(first[0].metadata["content_hash"])
    assert chunk_id("a.md", 0, h) != chunk_id("a.md", 1, h) != chunk_id("b.md", 0, h)


def test_clean_text_collapses_spaces_and_blank_lines() -> None:
    assert clean_text("a  \t b\n\n\n\nc  \n") == "a b\n\nc"


def test_empty_sections_make_no_chunks() -> None:
    assert _chunks(_doc(Section("   \n  ", ()))) == []


def _key_block(size: int) -> str:
    line = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
    body = "\n".join([line] * (size // (len(line) + 1)))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"


def test_a_private_key_block_is_never_split() -> None:
    key = _key_block(4096)
    assert len(key) > 4000
    text = "Rotate the deploy key yearly. " * 20 + "\n\n" + key + "\n\n" + "Then tell IT. " * 40
    records = _chunks(_doc(Section(text, ("Keys",))), size=300, overlap=30)
    holding = [r for r in records if "PRIVATE KEY" in r.text]
    assert len(holding) == 1, "the block is one chunk"
    assert holding[0].text == key
    assert len(records) > 3, "the text around it is still split as usual"
    assert all(len(r.text) <= 300 for r in records if r is not holding[0])


def test_a_pgp_block_and_an_unterminated_key_stay_whole() -> None:
    pgp = _key_block(2000).replace("RSA PRIVATE KEY", "PGP PRIVATE KEY BLOCK")
    unterminated = _key_block(1500).rsplit("\n", 1)[0]  # the END line is missing
    text = f"Intro.\n\n{pgp}\n\nMiddle.\n\n{unterminated}\n\nOutro text."
    records = _chunks(_doc(Section(text, ())), size=200, overlap=20)
    assert [r.text for r in records if "BEGIN" in r.text] == [pgp, unterminated]
    assert not [r for r in records if "MIIE" in r.text and "BEGIN" not in r.text]
