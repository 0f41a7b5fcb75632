"""The document access rule (`ingest.access`) and its storage and filters (`vectorstore.access`)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ingest.access import access_for, parse_groups
from vectorstore.access import (
    access_metadata,
    access_sql,
    access_update,
    chroma_access_where,
    group_key,
    readable,
    stored_groups,
)
from vectorstore.chroma_store import chroma_where

pytestmark = pytest.mark.unit

RULES = {"hr/**": ["hr", "Legal"], "**/payroll/*": ["hr", "finance"]}


def decide(paths=("it/vpn.md",), stated=None, overrides=None, default=("everyone",)):  # type: ignore[no-untyped-def]
    return access_for(paths, stated, rules=RULES, default=default, overrides=overrides)


def test_default_applies_only_when_nothing_speaks() -> None:
    assert decide().groups == {"everyone"}
    assert decide().reason == "default"
    assert decide(default=("staff",)).groups == {"staff"}
    assert decide(stated="  ").reason == "default"  # a blank access: says nothing


def test_each_source_speaks() -> None:
    assert decide(stated="hr, finance").groups == {"hr", "finance"}
    assert decide(("hr/a.md",)).groups == {"hr", "legal"}
    assert decide(("hr/a.md",)).reason == "path rule hr/**"
    assert decide(overrides={"it/vpn.md": ["it"]}).groups == {"it"}
    assert decide(overrides={"it/vpn.md": ["it"]}).reason == "admin setting"


def test_intersection_the_strictest_wins() -> None:
    both = decide(("hr/payroll/x.md",))
    assert both.groups == {"hr"}
    assert both.reason == "path rule hr/** + path rule **/payroll/*"
    assert decide(("hr/a.md",), stated="hr, finance").groups == {"hr"}
    admin = decide(("hr/a.md",), stated="hr", overrides={"hr/a.md": ["finance"]})
    assert admin.groups == frozenset()  # nobody named by all: only full access
    assert admin.determined


def test_a_link_takes_the_rules_of_its_target() -> None:
    assert decide(("it/copy.md", "hr/a.md")).groups == {"hr", "legal"}
    linked = decide(("it/copy.md", "hr/a.md"), overrides={"it/copy.md": ["hr"]})
    assert linked.groups == {"hr"}


def test_group_names_are_normalised() -> None:
    assert parse_groups(" HR ,Finance,, ") == {"hr", "finance"}
    assert decide(stated="HR").groups == decide(stated=" hr").groups == {"hr"}
    assert group_key("hr") == group_key(next(iter(parse_groups(" HR "))))


def test_fail_closed_on_an_unusable_group() -> None:
    bad = decide(stated='hr, "evil')
    assert bad.groups == frozenset()
    assert not bad.determined
    assert not decide(stated="a\x00b").determined


def test_metadata_scheme_and_update() -> None:
    meta = access_metadata({"hr", "finance"})
    assert meta["access"] == "finance,hr"
    assert meta[group_key("hr")] is True and meta[group_key("finance")] is True
    assert stored_groups(meta) == {"hr", "finance"}
    assert stored_groups({"source": "x"}) is None
    assert stored_groups(access_metadata(())) == frozenset()
    update = access_update({"source": "x", **meta}, {"it"})
    assert update[group_key("hr")] is None and update[group_key("it")] is True
    assert update["access"] == "it" and "source" not in update


def test_chroma_where_translation() -> None:
    assert chroma_access_where(["hr"]) == {group_key("hr"): True}
    assert chroma_access_where(["it", "hr"]) == {
        "$or": [{k: True} for k in sorted([group_key("hr"), group_key("it")])]
    }
    assert chroma_access_where([]) == {"access_none": True}  # a key no chunk has
    assert chroma_where({"folder": "it"}) == {"folder": "it"}


def test_sql_translation_on_real_sqlite() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE chunks (id TEXT, metadata TEXT)")
    rows = {"hr-doc": {"hr"}, "open": {"everyone"}, "none": set(), "old": None}
    for cid, groups in rows.items():
        meta = {"source": cid} if groups is None else access_metadata(groups)
        conn.execute("INSERT INTO chunks VALUES (?, ?)", (cid, json.dumps(meta)))

    def readable(groups: list[str]) -> set[str]:
        condition, params = access_sql(groups)
        return {r[0] for r in conn.execute(f"SELECT id FROM chunks WHERE {condition}", params)}

    assert readable(["everyone", "it"]) == {"open"}
    assert readable(["everyone", "hr"]) == {"open", "hr-doc"}
    assert readable([]) == set()


def test_readable_reads_the_group_keys() -> None:
    meta = access_metadata({"hr"})
    assert readable(meta, ["everyone", "hr"])
    assert not readable(meta, ["everyone"])
    assert not readable({"source": "old.md"}, ["everyone"])  # predates access: nobody
    assert not readable(meta, [])
