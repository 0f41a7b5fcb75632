"""Compare runs both models at once: its wall time against the slower answer and the sum.

The cloud model is stood in for by `llama_cpp.server` serving the packaged model on 127.0.0.1
(one thread), the private model runs in-process (one thread), so each has a core of this
2-core machine, as a real cloud model would not compete with the private one for CPU. Three
passes over the questions: the private answer alone, the cloud answer alone, then both through
`CompareRun`. Prints the medians and the ratio wall / slower (target: about 1) and wall / sum.

Usage: python benchmarks/compare_wall_time.py [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import report  # noqa: E402
from kbchat.answerers import cloud_answerer, private_answerer  # noqa: E402
from kbchat.audit import AuditLog  # noqa: E402
from kbchat.compare import CompareRun  # noqa: E402
from kbchat.knowledge import run_ingest  # noqa: E402
from kbchat.llm.models import packaged_model  # noqa: E402
from kbchat.settings import (  # noqa: E402
    CloudSettings,
    GenerationSettings,
    LocalModelSettings,
    PathSettings,
    Settings,
)
from tests.fixtures.llm_server import SERVER_MODEL, start_llama_server  # noqa: E402

QUESTIONS = [
    "How many days of annual leave do I get?",
    "How long do I have to submit my receipts after a trip?",
    "What does the Team edition cost per user?",
    "Which app do I install to approve sign-ins?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_llama_server(packaged_model("smollm2"), chat_format="chatml", n_ctx=4096) as url,
    ):
        settings = Settings(
            paths=PathSettings(corpus_dir=ROOT / "docs_corpus", index_dir=Path(tmp)),
            local=LocalModelSettings(local_n_threads=1),
            generation=GenerationSettings(max_answer_tokens=args.max_tokens),
            cloud=CloudSettings(
                cloud_allowed=True,
                openai_api_key="sk-local-stand-in-000000",
                openai_base_url=url,
                cloud_model=SERVER_MODEL,
            ),
        )
        run_ingest(settings)
        private, _ = private_answerer(settings)
        cloud = cloud_answerer(settings)
        audit = AuditLog(Path(tmp) / "audit.sqlite3")
        retrievals = [private.retrieve(q) for q in QUESTIONS]
        # Each pass goes through every question before the next pass starts, so no answer
        # meets its own prompt still cached from the run before (only the shared instructions).
        alone_private, alone_cloud, walls = [], [], []
        for retrieval in retrievals:
            started = time.perf_counter()
            private.stream(retrieval).consume()
            alone_private.append(time.perf_counter() - started)
        for retrieval in retrievals:
            started = time.perf_counter()
            cloud.stream(retrieval).consume()
            alone_cloud.append(time.perf_counter() - started)
        for retrieval in retrievals:
            result = CompareRun(settings, retrieval, [], private, cloud=cloud, audit=audit).run()
            assert not result.errors and result.cloud and result.private, result.errors
            walls.append(result.wall_s)
    med = statistics.median
    slower = [max(p, c) for p, c in zip(alone_private, alone_cloud, strict=True)]
    total = [p + c for p, c in zip(alone_private, alone_cloud, strict=True)]
    print(f"private alone  {med(alone_private):6.2f} s (median of {len(QUESTIONS)})")
    print(f"cloud alone    {med(alone_cloud):6.2f} s")
    print(f"compare wall   {med(walls):6.2f} s")
    ratio_slower = med(w / s for w, s in zip(walls, slower, strict=True))
    ratio_sum = med(w / t for w, t in zip(walls, total, strict=True))
    print(f"wall / slower  {ratio_slower:6.2f}   (about 1: the answers run at the same time)")
    print(f"wall / sum     {ratio_sum:6.2f}   (1 would mean one after the other)")
    report(
        "compare",
        "compare wall time / slower answer",
        f"{ratio_slower:.2f}",
        f"target about 1; medians: private {med(alone_private):.2f} s, cloud stand-in "
        f"{med(alone_cloud):.2f} s, compare {med(walls):.2f} s",
    )
    report(
        "compare",
        "compare wall time / sum of both answers",
        f"{ratio_sum:.2f}",
        "1 would mean one after the other",
    )


if __name__ == "__main__":
    main()
