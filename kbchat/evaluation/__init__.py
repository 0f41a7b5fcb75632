"""Evaluation of retrieval and answers against a question set (``kbchat eval``).

- `dataset`: the JSONL question sets (`load_eval_set`, line-numbered errors).
- `phrases`: key-phrase matching that ignores case, spacing, hyphens and number spelling.
- `metrics`: recall@k and MRR, and per model key phrases, refusals, citation precision,
  groundedness, latency percentiles, tokens and cost (the definitions are in its docstring).
- `runner`: one retrieval per question, then each model on it, one after the other.
- `findings`: what a run found: the retrieval and per-model figures, the worst questions.
- `report`: those as the summary table for a terminal and the Markdown or HTML report.
"""

from kbchat.evaluation.dataset import EvalQuestion, load_eval_set
from kbchat.evaluation.metrics import (
    ModelAnswer,
    ModelSummary,
    Ratio,
    RetrievalResult,
    RetrievalSummary,
    percentile,
    score_answer,
    score_retrieval,
    summarise_model,
)
from kbchat.evaluation.phrases import contains_phrase, match_phrases, normalise

__all__ = [
    "EvalQuestion",
    "ModelAnswer",
    "ModelSummary",
    "Ratio",
    "RetrievalResult",
    "RetrievalSummary",
    "contains_phrase",
    "load_eval_set",
    "match_phrases",
    "normalise",
    "percentile",
    "score_answer",
    "score_retrieval",
    "summarise_model",
]
