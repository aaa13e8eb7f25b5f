"""Filters: steps that judge a batch of rows; what they drop goes to the ledger with a reason and a score.

To add a filter: write its module (see `base.py`), then list it in FILTERS; its Config joins the run config.
"""

from __future__ import annotations

from synthfoundry.filters import (
    clusters,
    correctness,
    decontamination,
    diversity,
    injection,
    majority_vote,
    minhash,
    pass_rate,
    preference_pairs,
    quality_judge,
    rouge,
)
from synthfoundry.filters.base import Filter

FILTERS: dict[str, Filter] = {
    module.NAME: module
    for module in (
        correctness, majority_vote, pass_rate, quality_judge, preference_pairs, injection, decontamination, diversity,
        rouge, minhash, clusters,
    )
}


def get_filter(name: str) -> Filter:
    return FILTERS[name]
