import numpy as np
import polars as pl
import pytest

from synthfoundry.embeddings import embed
from synthfoundry.filters import FILTERS, clusters
from synthfoundry.filters.base import apply
from synthfoundry.filters.clusters import cluster_coverage
from synthfoundry.similarity.kmeans import kmeans, nearest_centroids
from tests.filters.tools import tools

TOPICS = {
    "baking": ["How long should bread dough rise?", "Why does my sourdough starter smell sour?",
               "What flour is best for pizza dough?", "How do I knead bread by hand?"],
    "python": ["How do I reverse a list in Python?", "What does a Python dictionary comprehension do?",
               "How do I read a file line by line in Python?", "What is a Python generator?"],
    "space": ["How far is the Moon from the Earth?", "Why does the planet Mars look red?",
              "What is a black hole in space?", "How do stars and planets form in a galaxy?"],
}


def topic_rows():
    texts = [text for group in zip(*TOPICS.values()) for text in group]  # interleaved topics
    topics = [topic for group in zip(*[[t] * 4 for t in TOPICS]) for topic in group]
    frame = pl.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "instruction": texts, "topic": topics})
    vectors = embed(texts)
    return frame.with_columns(pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, vectors.shape[1])))


def test_tags_every_row_with_a_cluster_that_follows_the_topic():
    logged = []
    result = apply(clusters, topic_rows(), clusters.Config(k=3), tools(log=logged.append))
    assert result.counts == {"in": 12, "kept": 12, "dropped": 0}
    by_topic = result.kept.group_by("topic").agg(pl.col("cluster").n_unique().alias("n"), pl.col("cluster").first())
    assert by_topic["n"].to_list() == [1, 1, 1] and by_topic["cluster"].n_unique() == 3
    assert logged and "k=3" in logged[0] and "'evenness': 1.0" in logged[0]


def test_a_cap_keeps_the_first_rows_of_each_cluster_and_says_why_the_rest_went():
    result = apply(clusters, topic_rows(), clusters.Config(k=3, max_per_cluster=2), tools())
    assert result.counts == {"in": 12, "kept": 6, "dropped": 6}
    assert result.kept["id"].to_list() == [f"r{i}" for i in range(6)]  # interleaved: the first two of each topic
    assert result.dropped["reason"].str.contains(r"^cluster \d already has 2 rows \(max_per_cluster\)$").all()


def test_default_k_and_more_clusters_than_rows():
    rows = topic_rows()
    assert apply(clusters, rows, clusters.Config(), tools()).kept["cluster"].n_unique() == 2  # sqrt(12 / 2)
    assert apply(clusters, rows.head(2), clusters.Config(k=50), tools()).kept["cluster"].n_unique() == 2


def test_kmeans_is_deterministic_per_seed_and_recovers_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.eye(5, 16, dtype=np.float32)
    vectors = np.repeat(centres, 40, axis=0) + rng.normal(scale=0.05, size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels, centroids = kmeans(vectors, 5, seed=1)
    assert [len(set(labels[i * 40 : (i + 1) * 40])) for i in range(5)] == [1] * 5 and len(set(labels)) == 5
    assert (kmeans(vectors, 5, seed=1)[0] == labels).all()
    assert np.allclose(np.linalg.norm(centroids, axis=1), 1.0, atol=1e-5)
    nearest = nearest_centroids(vectors, centroids, 2)
    assert (nearest[:, 0] == labels).all() and (nearest[:, 0] != nearest[:, 1]).all()


def test_is_registered_and_validates_its_config():
    import pydantic

    assert FILTERS["clusters"] is clusters
    with pytest.raises(pydantic.ValidationError, match="max_per_cluster"):
        clusters.Config(max_per_cluster=0)


def test_cluster_coverage_of_the_published_rows():
    assert cluster_coverage(pl.DataFrame({"id": ["a"]})) is None
    assert cluster_coverage(pl.DataFrame({"cluster": [None, None]}, schema={"cluster": pl.Int64})) is None
    figures = cluster_coverage(pl.DataFrame({"cluster": [0, 0, 1, 1, None]}))
    assert figures == {"distinct": 2, "largest_share": 0.5, "largest": 2, "median": 2.0, "smallest": 2, "evenness": 1.0}
    assert cluster_coverage(pl.DataFrame({"cluster": [0, 0, 0, 1]}))["evenness"] < 0.9
    # one used cluster: every used cluster equally full, the same figure the card shows
    assert cluster_coverage(pl.DataFrame({"cluster": [3, 3]}))["evenness"] == 1.0
