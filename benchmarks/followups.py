"""Follow-up retrieval: which strategy finds the right file when a question leans on the last turn.

Prints recall@5 and MRR on eval/followups.jsonl for the question alone, joined with the
previous question, and both fused. Needs an ingested sample corpus (it builds one in a temp
folder).

Usage: python benchmarks/followups.py
"""

from __future__ import annotations

import inspect
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from ingest.chunking import ChunkingOptions  # noqa: E402
from ingest.manifest import Manifest  # noqa: E402
from ingest.sync import IngestJob, IngestOptions  # noqa: E402
from kbchat.answering.followup import FOLLOWUP_STRATEGIES, search_with_history  # noqa: E402
from kbchat.knowledge import embedder_for  # noqa: E402
from kbchat.settings import Settings  # noqa: E402
from vectorstore import KnowledgeIndex  # noqa: E402

CASES = ROOT / "eval" / "followups.jsonl"
# The strategy kbchat uses: search_with_history's default.
USED = inspect.signature(search_with_history).parameters["strategy"].default


def main() -> None:
    cases = [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]
    recalls: dict[str, float] = {}
    mrrs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        index = KnowledgeIndex(Path(tmp), embedder_for(Settings()))  # the configured backend
        options = IngestOptions(corpus_dir=ROOT / "docs_corpus", chunking=ChunkingOptions(900, 120))
        IngestJob(index, Manifest(Path(tmp) / "manifest.sqlite3"), options).run()
        for strategy in FOLLOWUP_STRATEGIES:
            hits = 0
            reciprocal = 0.0
            for case in cases:
                found = search_with_history(
                    index, case["question"], case["history"], 5, strategy=strategy
                )
                sources = [str(h.metadata["source"]) for h in found]
                rank = next((i for i, s in enumerate(sources, 1) if s in case["gold_files"]), None)
                hits += rank is not None
                reciprocal += 1 / rank if rank else 0
            print(
                f"{strategy:<7} recall@5 {hits / len(cases):.3f}  MRR {reciprocal / len(cases):.3f}"
                f"  ({len(cases)} follow-ups)"
            )
            recalls[strategy] = hits / len(cases)
            mrrs[strategy] = reciprocal / len(cases)
    others = ", ".join(f"{s} {r:.3f}" for s, r in recalls.items() if s != USED)
    report(
        "retrieval",
        f"follow-ups, {USED} (used): recall@5",
        f"{recalls[USED]:.3f}",
        f"MRR {mrrs[USED]:.3f}; {others}; {len(cases)} follow-ups",
    )


if __name__ == "__main__":
    main()
