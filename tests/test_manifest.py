import polars as pl

from synthfoundry.manifest import reason_kinds, score_distribution
from synthfoundry.records import rows_frame
from synthfoundry.stages import split


def judged(stage, reasons, scores):
    rows = rows_frame([{"id": str(i), "instruction": f"q{i}"} for i in range(len(reasons))])
    return split(rows, stage, pl.Series(reasons, dtype=pl.String), pl.Series(scores, dtype=pl.Float64))


def test_score_distribution_counts_kept_and_dropped_rows_per_value():
    stage = judged("pass_rate", [None, "too easy: 1", None, "too hard: 0", None], [0.5, 1.0, 0.25, 0.0, 0.5])
    assert score_distribution(stage) == {
        "rows": 5, "mean": 0.45, "min": 0.0, "max": 1.0,
        "histogram": {"0": 1, "0.25": 1, "0.5": 2, "1": 1},
    }


def test_many_distinct_scores_are_binned():
    scores = [i / 100 for i in range(100)]
    distribution = score_distribution(judged("diversity", [None] * 100, scores))
    assert len(distribution["histogram"]) == 10
    assert sum(distribution["histogram"].values()) == 100
    assert next(iter(distribution["histogram"])) == "0-0.099"


def test_a_stage_without_scores_has_no_distribution():
    rows = rows_frame([{"id": "a", "instruction": "q"}])
    assert score_distribution(split(rows, "synthesis", pl.Series([None], dtype=pl.String))) is None


def test_reason_kinds_count_the_text_before_the_first_colon():
    stage = judged("decontamination", ["gsm8k: item 3 ...", "gsm8k: item 9 ...", "math: item 1 ...", "no colon", None],
                   [1.0] * 5)
    assert reason_kinds(stage.dropped) == {"gsm8k": 2, "math": 1}
