"""Majority vote (self-consistency, Wang et al. 2022): of the n samples answering one prompt, keep those that reach
the answer most samples reach.

Input columns: `response`, `sample_of` (the samples of one prompt share it; a row without it is its own prompt),
`verifier` (reads each sample's final answer and tells which answers agree; `default_verifier` for rows without
one; code samples agree when their programs give the same outputs on the tests' inputs, run in the run's sandbox)
and, optionally, `answer`. No ground truth is needed: agreement among samples is the signal. The score and the
`agreement` column are the share of the prompt's samples that reach its majority answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.strict import Strict
from synthfoundry.verify import Verifier, VerifierError, get_verifier

NAME = "majority_vote"
COMPARES_ROWS = True  # samples of one prompt may sit in different batches


class Config(Strict):
    """Keep the samples of each prompt whose final answer is the majority's."""

    name: Literal["majority_vote"] = "majority_vote"
    min_agreement: float = Field(
        default=0.5, ge=0, le=1, description="drop the whole prompt when fewer of its samples agree than this share"
    )
    keep: Literal["all", "one"] = Field(
        default="all", description="all: every sample with the majority answer; one: the first of them"
    )
    default_verifier: str = Field(
        default="math_verify",
        description="how to read and compare answers of rows without a `verifier` (e.g. numeric, normalised)",
    )
    verify_majority: bool = Field(
        default=False,
        description="for rows with a ground truth `answer`: drop the prompt when its majority answer does not verify",
    )

    @field_validator("default_verifier")
    @classmethod
    def _known_verifier(cls, value: str) -> str:
        get_verifier(value)  # a VerifierError is a ValueError: pydantic reports it on this field
        return value


@dataclass
class Vote:
    """One answer (as samples are compared on it) and the samples (row positions) that reached it."""

    answer: Any
    shown: str
    rows: list[int]
    found: Any  # the first sample's extracted answer (the program, for code): what a ground truth scores


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    reasons: list[str | None] = [None] * frame.height
    agreement: list[float | None] = [None] * frame.height
    prompts = frame["sample_of"].fill_null(frame["id"])
    rows = frame.select("response", "answer", "verifier", "instruction", "metadata").to_dicts()
    groups: dict[str, list[int]] = {}
    for i, prompt in enumerate(prompts.to_list()):
        groups.setdefault(prompt, []).append(i)
    for positions in groups.values():
        _vote(rows, positions, config, reasons, agreement, tools)
    return Verdicts(reasons, agreement, {"agreement": pl.Series(agreement, dtype=pl.Float64)})


def _vote(rows: list[dict], positions: list[int], config: Config, reasons: list, agreement: list, tools: Tools) -> None:
    """Fill in the verdicts of one prompt's samples (the rows at `positions`)."""
    first = rows[positions[0]]
    try:
        checker = get_verifier(first["verifier"] or config.default_verifier, tools.sandbox)
    except VerifierError as error:
        for i in positions:
            reasons[i] = str(error)
        return
    votes, silent = _count(checker, rows, positions)
    share = max((len(v.rows) for v in votes), default=0) / len(positions)
    for i in positions:
        agreement[i] = share
    for i in silent:
        reasons[i] = "no answer extracted"
    if not votes:
        return
    ranked = sorted(votes, key=lambda v: -len(v.rows))
    majority = ranked[0]
    prompt_reason = None
    if share < config.min_agreement:
        prompt_reason = f"agreement {share:.2f} < {config.min_agreement} (majority {majority.shown})"
    elif len(ranked) > 1 and len(ranked[1].rows) == len(majority.rows):
        prompt_reason = f"no majority: {majority.shown} and {ranked[1].shown} tie (agreement {share:.2f})"
    elif config.verify_majority and first["answer"] is not None:
        prompt_reason = _unverified(checker, majority, first)
    for vote in votes:
        for rank, i in enumerate(vote.rows):
            if prompt_reason:
                reasons[i] = prompt_reason
            elif vote is not majority:
                reasons[i] = f"minority answer {vote.shown} (majority {majority.shown}, agreement {share:.2f})"
            elif config.keep == "one" and rank:
                reasons[i] = f"another sample with the majority answer {majority.shown} is kept"


def _count(checker: Verifier, rows: list[dict], positions: list[int]) -> tuple[list[Vote], list[int]]:
    """Group the samples by answer (agreeing answers are one vote); also the samples with no answer."""
    votes: list[Vote] = []
    silent = []
    for i in positions:
        found = checker.extract(rows[i]["response"] or "")
        answer = None if found is None else checker.outcome(found, rows[i])
        if answer is None:
            silent.append(i)
            continue
        vote = next((v for v in votes if checker.agree(v.answer, answer)), None)
        if vote is None:
            votes.append(Vote(answer, checker.show(answer), [i], found))
        else:
            vote.rows.append(i)
    return votes, silent


def _unverified(checker: Verifier, majority: Vote, row: dict) -> str | None:
    try:
        passed = checker.score(majority.found, row) >= 1.0
    except VerifierError as error:
        return str(error)
    return None if passed else f"majority answer {majority.shown} does not verify (expected {row['answer']})"
