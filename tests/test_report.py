
import numpy as np
import pytest

from synthfoundry import card, report
from synthfoundry.filters.clusters import cluster_coverage
from tests.helpers import two_versions


@pytest.fixture
def store(tmp_path):
    return two_versions(tmp_path)


def test_distinct_n_and_pairwise_distance_match_their_definitions():
    assert report.distinct_n(["a b a b"], 1) == 0.5
    assert report.distinct_n(["a b a b"], 2) == pytest.approx(2 / 3, abs=1e-4)
    assert report.distinct_n([""], 2) is None
    assert report.mean_cosine_distance(np.eye(4, dtype=np.float32)) == 1.0
    assert report.mean_cosine_distance(np.ones((5, 3), dtype=np.float32)) == 0.0
    vectors = np.random.default_rng(0).normal(size=(50, 8))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    brute = 1 - similarity[~np.eye(50, dtype=bool)].mean()
    assert report.mean_cosine_distance(vectors) == pytest.approx(brute, abs=1e-4)


def test_evaluation_of_a_published_version(store):
    figures = report.evaluate_version(store, store.latest())
    assert figures["version"] == "v2" and figures["parent"] == "v1"
    assert figures["rows"]["total"] == 30 and figures["rows"]["added"] == 10

    rejections = {(r["stage"], r["kind"]): r["rows"] for r in figures["rejections"]}
    assert rejections[("diversity", "cosine # > # to a row kept earlier")] == 2
    assert rejections[("diversity", "cosine # > # to a published row")] == 1
    assert figures["contamination"] == {"gsm8k": 2, "math500": 1}

    judge = figures["judge"]
    assert judge["by_score"] == [
        {"score": 1.0, "kept": 0, "dropped": 1}, {"score": 2.0, "kept": 0, "dropped": 1},
        {"score": 4.0, "kept": 6, "dropped": 0}, {"score": 5.0, "kept": 4, "dropped": 0},
    ]
    assert judge["mean_kept"] == 4.4 and judge["unscored"] == 1
    assert figures["scores"]["diversity"]["rows"] == 30 and figures["scores"]["quality_judge"]["rows"] == 10
    assert figures["rates"]["pass_rate"]["mean"] == 0.375 and figures["rates"]["pass_rate"]["rows"] == 10
    assert figures["rates"]["agreement"]["mean"] == 1.0
    assert figures["diversity"]["clusters"] == cluster_coverage(store.read(2))
    assert figures["diversity"]["clusters"]["evenness"] == 1.0 and figures["diversity"]["clusters"]["distinct"] == 2
    assert figures["diversity"]["sample"] == 30

    # the pairwise distance is over the version's own LanceDB vectors (random unit vectors: close to 1)
    vectors = store.sample_vectors(store.latest(), report.SAMPLE)
    assert vectors.shape == (30, 384)
    assert figures["diversity"]["mean_cosine_distance"] == report.mean_cosine_distance(vectors)
    assert 0.9 < figures["diversity"]["mean_cosine_distance"] < 1.1

    read = store.read(2)
    assert figures["lengths"]["response_chars"]["max"] == read["response"].str.len_chars().max()
    assert figures["recipes"] == [{"recipe": "self_instruct", "recipe_version": "1", "rows": 30}]
    assert figures["cost"]["spent_usd"] == 0.0125 and figures["cost"]["per_kept_row_usd"] == 0.00125
    assert figures["lineage"]["config"]["dataset"] == "ds"
    assert figures["change"]["from"] == "v1"
    assert figures["change"]["rows"] == {"previous": 20, "current": 30, "delta": 10}


def test_a_saved_evaluation_is_what_the_next_version_compares_with(store):
    v1, v2 = store.versions()
    first = report.evaluate_version(store, v1)
    card.write_card(store, v1, {**first, "diversity": {**first["diversity"], "distinct_1": 0.123}}, {})
    assert report.evaluate_version(store, v2)["change"]["distinct_1"]["previous"] == 0.123
