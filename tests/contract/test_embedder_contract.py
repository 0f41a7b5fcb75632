"""The contract every embedding backend keeps, run over each one kbchat ships.

The index relies on these and nothing more: a name that identifies the vectors, a fixed
dimension, one unit-length row per text, the same vector for the same text whatever else is in
the batch, and vectors that put a question near the passage that answers it. Each backend runs
the same tests: PyTorch (sentence-transformers), and ONNX Runtime on the int8 and the fp32
export of the same packaged model.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from kbchat.data_layout import DEFAULT_EMBEDDING_CACHE_DIR
from tests.fixtures.cli import ROOT
from vectorstore.embedder import Embedder, SentenceTransformerEmbedder
from vectorstore.onnx.embedder import OnnxEmbedder

pytestmark = pytest.mark.contract

LEAVE = "Full-time staff get 27 days of paid annual leave plus bank holidays."
VPN = "Install the QuillonConnect VPN client from the software centre and sign in."
CAKE = "The office kitchen is cleaned every Friday afternoon."


@pytest.fixture(scope="module", params=["torch", "onnx-int8", "onnx-fp32"])
def embedder(request: pytest.FixtureRequest) -> Iterator[Embedder]:
    # The exports live in the shared cache every test and every index uses (made once).
    cache = ROOT / DEFAULT_EMBEDDING_CACHE_DIR
    backends: dict[str, Embedder] = {
        "torch": SentenceTransformerEmbedder(),
        "onnx-int8": OnnxEmbedder(cache_dir=cache, quantize=True),
        "onnx-fp32": OnnxEmbedder(cache_dir=cache, quantize=False),
    }
    yield backends[request.param]


def test_it_names_its_vectors_and_has_a_fixed_dimension(embedder: Embedder) -> None:
    assert isinstance(embedder.name, str) and embedder.name
    assert isinstance(embedder.dimension, int) and embedder.dimension > 0


def test_one_unit_length_row_per_text(embedder: Embedder) -> None:
    vectors = embedder.embed_documents([LEAVE, VPN, CAKE])
    assert vectors.shape == (3, embedder.dimension)
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    query = embedder.embed_query("How many days of holiday do I get?")
    assert query.shape == (embedder.dimension,)
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-3)


def test_no_texts_give_no_rows(embedder: Embedder) -> None:
    assert embedder.embed_documents([]).shape[0] == 0


def test_a_text_gets_the_same_vector_alone_or_in_a_batch(embedder: Embedder) -> None:
    alone = embedder.embed_documents([VPN])[0]
    batched = embedder.embed_documents([LEAVE, VPN, CAKE * 5])[1]  # padded beside a long text
    assert float(alone @ batched) > 0.999
    assert np.allclose(embedder.embed_documents([VPN])[0], alone, atol=1e-5)  # and every time


def test_a_question_is_nearest_the_passage_that_answers_it(embedder: Embedder) -> None:
    passages = embedder.embed_documents([LEAVE, VPN, CAKE])
    for question, best in (
        ("How many days of annual leave do I get?", 0),
        ("How do I connect to the VPN from home?", 1),
    ):
        scores = passages @ embedder.embed_query(question)
        assert int(np.argmax(scores)) == best, (question, scores)
