"""Correctness: keep a row only if its response reaches the row's ground-truth answer, by the row's verifier.

Input columns: `response`, `answer`, `verifier` (see `synthfoundry.verify`). Samples of one prompt (`sample_of`)
can be cut to the first one that verifies, for datasets that want one reasoning path per question.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Literal

import polars as pl
from pydantic import Field

from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.sandbox import Sandbox
from synthfoundry.strict import Strict
from synthfoundry.verify import VerifierError, verify

NAME = "correctness"
COMPARES_ROWS = False
NEEDS_ANSWERS = True  # reads each row's answer and verifier: preflight refuses it on a recipe that gives none


class Config(Strict):
    """Verify each response against its row's ground truth (math-verify, reasoning-gym, exact, numeric, ...)."""

    name: Literal["correctness"] = "correctness"
    min_score: float = Field(
        default=1.0, ge=0, le=1,
        description="keep a row whose verifier score is at least this; 1 = must reach the ground truth",
    )
    one_per_prompt: bool = Field(
        default=False,
        description="keep only the first verified sample of each prompt (rows sharing `sample_of`)",
    )


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    rows = frame.select("instruction", "response", "answer", "verifier", "metadata").to_dicts()
    check = partial(_check, min_score=config.min_score, sandbox=tools.sandbox)
    if tools.sandbox is None:
        verdicts = list(map(check, rows))
    else:  # programs run in the sandbox's threads, up to its concurrency at once
        with ThreadPoolExecutor(tools.sandbox.config.concurrency) as pool:
            verdicts = list(pool.map(check, rows))
    reasons, scores = zip(*verdicts)
    reasons = list(reasons)
    if config.one_per_prompt:
        reasons = _first_pass_per_prompt(frame, reasons)
    return Verdicts(reasons, list(scores))


def _check(row: dict, min_score: float, sandbox: Sandbox | None) -> tuple[str | None, float]:
    if not (row["response"] or "").strip():
        return "no response to verify", 0.0
    if row["answer"] is None or row["verifier"] is None:
        return "no ground truth to verify against (the row has no answer or verifier)", 0.0
    try:
        verdict = verify(row["response"], row, sandbox)
    except VerifierError as error:
        return str(error), 0.0
    if verdict.score >= min_score:
        return None, verdict.score
    if verdict.extracted is None:
        return f"no final answer found in the response (expected {row['answer']})", verdict.score
    if verdict.reason:
        return f"does not verify: {verdict.reason}", verdict.score
    return f"answer does not verify: expected {row['answer']}, got {verdict.extracted}", verdict.score


def _first_pass_per_prompt(frame: pl.DataFrame, reasons: list[str | None]) -> list[str | None]:
    seen: set[str] = set()
    out = []
    for prompt, reason in zip(frame["sample_of"].fill_null(frame["id"]).to_list(), reasons):
        if reason is None and prompt in seen:
            reason = "another verified sample of this prompt is kept"
        elif reason is None:
            seen.add(prompt)
        out.append(reason)
    return out
