from __future__ import annotations

from pathlib import Path

import pytest

from vectorstore.keyword import KeywordIndex, filter_sql, query_terms
from vectorstore.records import ChunkRecord

pytestmark = pytest.mark.unit


def _rec(cid: str, text: str, **meta: object) -> ChunkRecord:
    return ChunkRecord(cid, text, text, {"source": f"{cid}.md", **meta})  # type: ignore[arg-type]


@pytest.fixture
def index(tmp_path: Path) -> KeywordIndex:
    kw = KeywordIndex(tmp_path / "kw.sqlite3")
    kw.upsert(
        [
            _rec("leave", "Annual leave is 27 days plus bank holidays.", sensitivity="internal"),
            _rec("vpn", "Install the VPN client and approve the MFA prompt.", sensitivity="public"),
            _rec("pay", "Salary bands for level 3 engineers.", sensitivity="confidential"),
        ]
    )
    return kw


def test_query_terms_drop_stop_words_and_duplicates() -> None:
    assert query_terms("How many days of the annual leave, leave?") == [
        "many",
        "days",
        "annual",
        "leave",
    ]
    assert query_terms("a the of") == []


def test_bm25_ranks_matching_chunk_first_with_stemming(index: KeywordIndex) -> None:
    hits = index.search("how do I install VPN clients", 5)
    assert hits[0][0] == "vpn"
    assert all(score > 0 for _, score in hits)
    assert index.search("holiday", 5)[0][0] == "leave"  # porter stemming: holidays


def test_filters_restrict_results(index: KeywordIndex) -> None:
    assert index.search("salary leave vpn", 5, {"sensitivity": "public"}) == [
        (cid, score) for cid, score in index.search("salary leave vpn", 5) if cid == "vpn"
    ]
    got = {
        cid
        for cid, _ in index.search("salary leave vpn", 5, {"sensitivity": ["public", "internal"]})
    }
    assert got == {"vpn", "leave"}
    assert index.search("salary", 5, {"sensitivity": []}) == []


def test_upsert_replaces_and_delete_removes(index: KeywordIndex) -> None:
    index.upsert([_rec("leave", "Parental leave is 26 weeks.")])
    assert index.count() == 3
    assert index.search("bank holidays", 5) == []
    assert index.get(["leave"])["leave"][0] == "Parental leave is 26 weeks."
    index.delete(["leave", "unknown"])
    assert index.ids() == {"vpn", "pay"}
    assert index.search("parental", 5) == []


def test_queries_with_fts_syntax_are_taken_literally(index: KeywordIndex) -> None:
    assert index.search('VPN" OR NOT * (', 5)[0][0] == "vpn"
    assert index.search("***", 5) == []


def test_filter_keys_are_validated() -> None:
    with pytest.raises(ValueError, match="invalid metadata key"):
        filter_sql({"x') OR 1=1 --": "a"})
    assert filter_sql(None) == ("1", [])


def test_term_coverage_counts_the_query_terms_each_chunk_holds(index: KeywordIndex) -> None:
    # "annual" and "leave" (stemmed: "holidays" would match "holiday") of four terms.
    coverage = index.term_coverage("annual leave carry over", ["leave", "vpn", "missing"])
    assert coverage == {"leave": 0.5, "vpn": 0.0}
    assert index.term_coverage("holiday approved", ["leave", "vpn"]) == {"leave": 0.5, "vpn": 0.5}
    assert index.term_coverage("the of and", ["leave"]) == {"leave": 0.0}
