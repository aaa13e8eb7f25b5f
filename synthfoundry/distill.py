"""Distillation: the teacher answers each candidate; unanswered, empty or truncated answers go to the ledger."""

from __future__ import annotations

import polars as pl

from synthfoundry.records import RESPONSE_SCHEMA, content_id, teacher_params
from synthfoundry.stages import StageResult, split
from synthfoundry.teachers.base import (
    BUDGET_EXHAUSTED,
    ChatRequest,
    Completion,
    Teacher,
    TeacherFailure,
    complete_all,
)


def to_answer(frame: pl.DataFrame, n: int = 1) -> pl.DataFrame:
    """The rows still without a response, n samples each: each sample is its own request, seeded from its id.

    Sample 0 keeps the row's id, so data made before `n` existed keeps its ids; sample k's id is (row id, k);
    every sample's `sample_of` is the prompt row's id, so filters can tell samples of one prompt apart.
    """
    pending = frame.filter(pl.col("response").is_null())
    if n == 1:
        return pending
    pending = pending.with_columns(pl.coalesce("sample_of", "id").alias("sample_of"))
    samples = pending.join(pl.DataFrame({"_k": range(n)}), how="cross", maintain_order="left")
    ids = [row_id if k == 0 else content_id(row_id, "sample", k) for row_id, k in samples.select("id", "_k").iter_rows()]
    return samples.with_columns(pl.Series("id", ids, dtype=pl.String)).drop("_k")


def answer_requests(frame: pl.DataFrame, temperature: float, top_p: float, max_tokens: int) -> list[ChatRequest]:
    """One user turn per row: the instruction, followed by its input when there is one."""
    return [
        ChatRequest(
            messages=({"role": "user", "content": f"{instruction}\n\n{input_}" if input_ else instruction},),
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=int(row_id[:8], 16),
        )
        for row_id, instruction, input_ in frame.select("id", "instruction", "input").iter_rows()
    ]


def why_unusable(output: Completion | TeacherFailure, drop_truncated: bool) -> str | None:
    """Why an answer cannot be used (None when it can); also used by recipes that answer their own prompts."""
    if isinstance(output, TeacherFailure):
        return output.reason if output.reason == BUDGET_EXHAUSTED else f"teacher failed: {output.reason}"
    if not output.text.strip():
        return "empty response"
    if drop_truncated and output.finish_reason == "length":
        return "response truncated at max_tokens"
    return None


def distill(
    frame: pl.DataFrame,
    teacher: Teacher,
    temperature: float,
    top_p: float,
    max_tokens: int,
    max_in_flight: int,
    drop_truncated: bool = True,
    n: int = 1,
) -> StageResult:
    """Answer the rows that have no response yet (n samples each); rows a recipe already answered pass through."""
    pending = to_answer(frame, n)
    done = frame.filter(pl.col("response").is_not_null())
    requests = answer_requests(pending, temperature, top_p, max_tokens)
    outputs = complete_all(teacher, requests, max_in_flight).results
    params = teacher_params(**teacher.params(), temperature=temperature, top_p=top_p, max_tokens=max_tokens)
    answered = [o if isinstance(o, Completion) else None for o in outputs]
    columns = pl.DataFrame(
        {
            "response": [o.text.strip() if o else None for o in answered],
            "reasoning": [o.reasoning if o else None for o in answered],
            "teacher_provider": [o.provider if o else teacher.provider for o in answered],
            "teacher_model": [o.model if o else teacher.model for o in answered],
            "teacher_params": [params] * len(answered),
            "prompt_tokens": [o.prompt_tokens if o else 0 for o in answered],
            "completion_tokens": [o.completion_tokens if o else 0 for o in answered],
            "finish_reason": [o.finish_reason if o else None for o in answered],
            "cost_usd": [o.cost_usd if o else None for o in answered],
        },
        schema=RESPONSE_SCHEMA,
    )
    reasons = [None] * done.height + [why_unusable(o, drop_truncated) for o in outputs]
    rows = pl.concat([done, pending.with_columns(columns.get_columns())])
    return split(rows, "distillation", pl.Series(reasons, dtype=pl.String))
