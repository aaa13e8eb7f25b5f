import json

import numpy as np
import polars as pl
import pytest

from synthfoundry import report
from synthfoundry.dataset import DatasetStore
from synthfoundry.records import with_decision
from synthfoundry.stages import LEDGER_SCHEMA
from tests.helpers import publish_rows, published_rows


def ledger(*entries):
    """(stage, reason, score) triples as ledger rows."""
    return pl.DataFrame(
        [{"id": f"x{i}", "stage": s, "reason": r, "score": v, "text": f"text {i}"} for i, (s, r, v) in enumerate(entries)],
        schema=LEDGER_SCHEMA,
    )


LEDGER = ledger(
    ("diversity", "cosine 0.934 > 0.9 to a row kept earlier", 0.934),
    ("diversity", "cosine 0.951 > 0.9 to a published row", 0.951),
    ("diversity", "cosine 0.97 > 0.9 to a row kept earlier", 0.97),
    ("quality_judge", "judge score 2 < 4", 2.0),
    ("quality_judge", "judge score 1 < 4", 1.0),
    ("quality_judge", "judge score unparseable", None),
    ("decontamination", 'gsm8k: instruction shares 13 of 20 13-grams with test.jsonl:812, e.g. "a b c"', 1.0),
    ("decontamination", 'gsm8k: response shares 15 of 40 13-grams with test.jsonl:5, e.g. "d e f"', 1.0),
    ("decontamination", "math500: instruction is close to item 3 (cosine 0.971 >= 0.95)", None),
)


@pytest.fixture
def store(tmp_path):
    """v1 (20 rows) and v2 (+10 rows judged 4 or 5, with a ledger and a policy pass rate); both with clusters."""
    publish_rows(tmp_path, "ds", published_rows(20, seed=1, run_id="run-1", cluster=[0, 1] * 10))
    second = published_rows(10, seed=2, run_id="run-2")
    second = with_decision(second, "quality_judge", pl.Series([4.0] * 6 + [5.0] * 4)).with_columns(
        pl.Series("pass_rate", [0.25, 0.5] * 5), pl.Series("agreement", [1.0] * 10), pl.Series("cluster", [0, 1] * 5)
    )
    publish_rows(tmp_path, "ds", second, LEDGER)
    return DatasetStore(tmp_path, "ds")


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
    assert figures["diversity"]["clusters"] == {"distinct": 2, "largest_share": 0.5, "evenness": 1.0}
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


def test_card_files_beside_the_manifest(store):
    v2 = store.latest()
    figures = report.evaluate_version(store, v2)
    written = report.write_card(store, v2, figures, report.plots(figures))
    folder = v2.path
    assert sorted(p.removeprefix(folder + "/") for p in written) == [
        "card.md", "evaluation.json", "plots/judge.png", "plots/lengths.png", "plots/scores.png", "plots/stages.png",
    ]
    for path in written:
        if path.endswith(".png"):
            assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    card = open(f"{folder}/card.md").read()
    for heading in ("# ds v2", "## Pipeline", "## Why rows were dropped", "## Diversity", "## Contamination",
                    "## Lengths", "## Lineage", "## Change from v1", "## Load it"):
        assert heading in card
    assert "![judge](plots/judge.png)" in card and "| gsm8k | 2 |" in card
    assert "- policy pass rate (`pass_rate`): mean 0.375" in card
    assert json.loads(open(f"{folder}/evaluation.json").read())["contamination"] == figures["contamination"]


def test_a_saved_evaluation_is_what_the_next_version_compares_with(store):
    v1, v2 = store.versions()
    first = report.evaluate_version(store, v1)
    report.write_card(store, v1, {**first, "diversity": {**first["diversity"], "distinct_1": 0.123}}, {})
    assert report.evaluate_version(store, v2)["change"]["distinct_1"]["previous"] == 0.123


def test_tables_are_rows_for_artifacts(store):
    figures = report.evaluate_version(store, store.latest())
    rows = report.tables(figures)
    stages = {s["stage"]: s for s in rows["stages"]}
    assert stages["diversity"] == {"stage": "diversity", "in": 13, "kept": 10, "dropped": 3, "kept_share": 0.7692}
    assert {"benchmark": "math500", "hits": 1} in rows["contamination"]
    assert all("histogram" not in row for row in rows["lengths"])
