"""Pass-rate band for RLVR prompts: keep the prompts a policy model sometimes, not always, solves.

A prompt the policy always solves teaches it nothing, one it never solves gives no reward signal (every sample
scores 0, so group-relative methods such as GRPO see no advantage). Each row's prompt (instruction, then input) is
answered `samples` times by the policy, each answer scored with the row's own `verifier` against its `answer`;
the share that passes is the row's score and its `pass_rate` column.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field, model_validator

from synthfoundry.distill import answer_requests
from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.records import content_id
from synthfoundry.spend import Estimate
from synthfoundry.strict import Strict
from synthfoundry.teachers.base import Completion, TeacherFailure
from synthfoundry.teachers.config import TeacherConfig
from synthfoundry.verify import VerifierError, get_verifier, verify

NAME = "pass_rate"
COMPARES_ROWS = False
NEEDS_ANSWERS = True  # reads each row's answer and verifier: preflight refuses it on a recipe that gives none


class Config(Strict):
    """Sample the policy `samples` times per prompt; keep prompts whose pass rate lies in [low, high]."""

    name: Literal["pass_rate"] = "pass_rate"
    policy: TeacherConfig | None = Field(
        default=None, description="the model being trained (or one like it); default: the run's teacher"
    )
    samples: int = Field(default=8, ge=1, description="responses sampled per prompt")
    low: float = Field(default=0.1, ge=0, le=1, description="drop prompts solved less often than this")
    high: float = Field(default=0.9, ge=0, le=1, description="drop prompts solved more often than this")
    temperature: float = Field(default=1.0, ge=0, le=2, description="the policy's sampling temperature")
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=512, ge=1, description="tokens per policy response")

    @model_validator(mode="after")
    def _band(self) -> Config:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


def estimate(config: Config, rows: int, row_tokens: int) -> Estimate:
    """`samples` policy answers per row."""
    return Estimate.asking(rows * config.samples, row_tokens, config.max_tokens).passing(rows, row_tokens)


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    reasons: list[str | None] = [_unscorable(row) for row in frame.select("answer", "verifier").iter_rows(named=True)]
    rates: list[float | None] = [None] * frame.height
    ready = [i for i, reason in enumerate(reasons) if reason is None]
    requests = answer_requests(_policy_prompts(frame[ready], config.samples), config.temperature, config.top_p,
                               config.max_tokens)
    outputs = tools.ask(config.policy)(requests) if requests else []
    rows = frame.select("instruction", "answer", "verifier", "metadata").to_dicts()
    for n, i in enumerate(ready):
        answers = outputs[n * config.samples : (n + 1) * config.samples]
        reasons[i], rates[i] = _rate(answers, rows[i], config, tools)
    return Verdicts(reasons, rates, {"pass_rate": pl.Series(rates, dtype=pl.Float64)})


def _policy_prompts(frame: pl.DataFrame, samples: int) -> pl.DataFrame:
    """Each prompt `samples` times, each with its own id (and so its own seed and cache entry)."""
    prompts = frame.select("id", "instruction", "input").join(
        pl.DataFrame({"k": range(samples)}), how="cross", maintain_order="left"
    )
    ids = [content_id(row_id, NAME, k) for row_id, k in prompts.select("id", "k").iter_rows()]
    return prompts.with_columns(pl.Series("id", ids, dtype=pl.String))


def _unscorable(row: dict) -> str | None:
    if row["answer"] is None or row["verifier"] is None:
        return "no ground truth to score the policy against (the row has no answer or verifier)"
    try:
        get_verifier(row["verifier"])
    except VerifierError as error:
        return str(error)
    return None


def _rate(answers: list[Completion | TeacherFailure], row: dict, config: Config,
          tools: Tools) -> tuple[str | None, float | None]:
    """(drop reason, pass rate) of one prompt from its policy answers."""
    failures = [a.reason for a in answers if isinstance(a, TeacherFailure)]
    if failures:
        return f"policy failed on {len(failures)} of {len(answers)} samples ({failures[0]}): pass rate not measured", None
    try:
        rate = sum(verify(a.text, row, tools.sandbox).score >= 1.0 for a in answers) / len(answers)
    except VerifierError as error:
        return str(error), None
    if rate > config.high:
        return f"pass rate {rate:.2f} > {config.high}: {'always' if rate == 1 else 'mostly'} solved", rate
    if rate < config.low:
        return f"pass rate {rate:.2f} < {config.low}: {'never' if rate == 0 else 'rarely'} solved", rate
    return None, rate
