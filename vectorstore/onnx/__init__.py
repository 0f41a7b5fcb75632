"""Sentence embeddings run by ONNX Runtime: the PyTorch path's model, several times faster.

On first use the sentence-transformers model (the packaged all-MiniLM-L6-v2 unless another local
folder is configured) is exported to ONNX with its pooling and normalisation inside the graph,
quantised to int8 by default, checked against the PyTorch model, and kept in a cache folder.
Later loads reuse that folder and import neither torch nor sentence-transformers: only
onnxruntime, the Rust ``tokenizers`` library and numpy.

Modules: ``cache`` (the cache folders, their keys and the lock around an export), ``export``
(the model to ONNX, quantised and checked), ``runtime`` (an export loaded in ONNX Runtime and
run on tokenised texts) and ``embedder`` (``OnnxEmbedder``, the ``Embedder`` over the three).
"""
