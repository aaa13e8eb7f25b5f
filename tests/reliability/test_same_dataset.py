"""The crash suite's notion of "the same dataset": float32 noise in vector-derived scores passes, anything a user
would see as a different dataset does not."""

import numpy as np
import polars as pl
import pytest

from synthfoundry.embeddings import embed
from tests.reliability.runs import EMBEDDING_TOLERANCE, assert_same_dataset

TEXTS = [f"Janet has {i * 3} ducks and sells {i} eggs at the market; how many {'more ' * (i * 3)}remain?"
         for i in range(12)]  # lengths vary, so a batch pads most texts


def dataset(vectors: np.ndarray, scores: list[float], stage: str = "diversity") -> pl.DataFrame:
    return pl.DataFrame({
        "id": [f"r{i}" for i in range(len(scores))],
        "instruction": TEXTS[: len(scores)],
        "run_id": [f"run-{np.random.rand()}"] * len(scores),
        "vector": vectors.tolist(),
        "decisions": [[{"stage": stage, "score": s}] for s in scores],
    })


def test_batching_moves_vectors_by_less_than_the_tolerance(record_property):
    """The cause of the noise, measured: a text embedded alone vs padded in a batch differs in the last bits (about
    1e-7 here); the tolerance leaves two orders of magnitude above that."""
    batched, alone = embed(TEXTS), np.stack([embed([text])[0] for text in TEXTS])
    record_property("batching_noise", float(np.abs(batched - alone).max()))
    assert np.abs(batched - alone).max() < EMBEDDING_TOLERANCE / 10


def test_noise_passes_and_real_differences_fail():
    vectors = embed(TEXTS)
    scores = (vectors @ vectors.T)[0].tolist()
    expected = dataset(vectors, scores)
    assert_same_dataset(dataset(vectors + 2e-7, [s + 3e-7 for s in scores]), expected)
    with pytest.raises(AssertionError, match="decisions differ"):
        assert_same_dataset(dataset(vectors, [s + 1e-3 for s in scores]), expected)
    with pytest.raises(AssertionError):
        assert_same_dataset(dataset(vectors, scores, stage="rouge"), expected)
    with pytest.raises(AssertionError):
        assert_same_dataset(dataset(vectors, scores)[:-1], expected)
