"""The embedding model loads once even when tasks in threads embed at once."""

from concurrent.futures import ThreadPoolExecutor

from synthfoundry import embeddings


def test_threads_embedding_at_once_leave_transformers_as_it_was():
    """transformers patches `PreTrainedModel.tie_weights` while a model loads; two loads at once used to leave the
    patch in place, and every later model (the evaluation's student) lost its tied output layer."""
    from transformers import PreTrainedModel

    embeddings._load.cache_clear()
    with ThreadPoolExecutor(4) as pool:
        shapes = list(pool.map(lambda text: embeddings.embed([text]).shape, ["a", "b", "c", "d"]))
    assert shapes == [(1, embeddings.DIMENSIONS)] * 4
    assert PreTrainedModel.tie_weights.__qualname__ == "PreTrainedModel.tie_weights"
    assert embeddings._load.cache_info().misses == 1
