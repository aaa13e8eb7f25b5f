"""The manifest's score distribution (any filter's scores, kept and dropped) and ledger reason kinds."""

import polars as pl

from synthfoundry.manifest import score_distribution
from synthfoundry.records import rows_frame
from synthfoundry.stages import split


def stage(name: str, scores: list[float | None], keep: list[bool]):
    frame = rows_frame([{"id": str(i), "instruction": f"row {i}"} for i in range(len(scores))])
    reasons = pl.Series([None if k else "dropped" for k in keep], dtype=pl.String)
    return split(frame, name, reasons, pl.Series(scores, dtype=pl.Float64))


def test_whole_number_scores_are_counted_by_value_and_cosines_in_buckets():
    judge = stage("quality_judge", [5, 4, 4, 2, None], [True, True, True, False, False])
    cosine = stage("diversity", [0.1, 0.5, 0.95, 0.2], [True, True, False, True])
    unscored = split(rows_frame([{"id": "a", "instruction": "a"}]), "synthesis", pl.Series([None], dtype=pl.String))
    distribution = score_distribution([unscored, judge, cosine], buckets=2)
    assert distribution["quality_judge"] == {"kept": {"4": 2, "5": 1}, "dropped": {"2": 1}}
    assert distribution["diversity"] == {"kept": {"0.1-0.525": 3}, "dropped": {"0.525-0.95": 1}}
    assert "synthesis" not in distribution


def judged(stage, reasons, scores):
    rows = rows_frame([{"id": str(i), "instruction": f"q{i}"} for i in range(len(reasons))])
    return split(rows, stage, pl.Series(reasons, dtype=pl.String), pl.Series(scores, dtype=pl.Float64))
