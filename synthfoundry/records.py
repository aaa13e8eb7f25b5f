"""The row model shared by every stage: content-addressed ids and the columns a published SFT row carries."""

from __future__ import annotations

import hashlib
import json

import polars as pl


def content_id(*parts: object) -> str:
    """Stable id from content + lineage, so a re-run of the same request yields the same id."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})

# Columns a recipe sets when it creates a row (lineage is fixed here, so is the id).
CANDIDATE_SCHEMA = {
    "id": pl.String,
    "recipe": pl.String,
    "recipe_version": pl.String,
    "template_hash": pl.String,
    "seed_ids": pl.List(pl.String),
    "instruction": pl.String,
    "input": pl.String,
    "messages": pl.List(MESSAGE),  # multi-turn recipes: the whole conversation
    "answer": pl.String,  # verifiable ground truth (RLVR tasks, bootstrapped maths)
    "verifier": pl.String,  # how to check an answer, e.g. "math_verify" or "reasoning_gym:basic_arithmetic"
    "metadata": pl.String,  # JSON object of recipe-specific axes (audience, format, style, concept, ...)
    "sample_of": pl.String,  # the prompt's id, shared by the n samples answering it (null: the row is its own prompt)
    "tools": pl.String,  # tool use: JSON list of the OpenAI-style function schemas the row offered
    # tool use: JSON list of the OpenAI-form messages (assistant `tool_calls`, `tool` results, the final answer)
    "trajectory": pl.String,
}

# Columns set by distillation, or by a recipe that writes the response itself (null until then).
RESPONSE_SCHEMA = {
    "response": pl.String,
    "reasoning": pl.String,
    "teacher_provider": pl.String,
    "teacher_model": pl.String,
    "teacher_params": pl.String,
    "prompt_tokens": pl.Int64,
    "completion_tokens": pl.Int64,
    "finish_reason": pl.String,
    "cost_usd": pl.Float64,  # what answering the row cost (all its attempts); null when the model has no price
}

ROW_SCHEMA = {**CANDIDATE_SCHEMA, **RESPONSE_SCHEMA}

DECISION = pl.Struct({"stage": pl.String, "score": pl.Float64})

# A published row: lineage + response + run provenance + each filter's score. One schema for every recipe,
# so any dataset's LanceDB table and contract see the same columns.
PUBLISHED_SCHEMA = {
    **ROW_SCHEMA,
    "run_id": pl.String,
    "created_at": pl.Datetime("us", "UTC"),
    "decisions": pl.List(DECISION),
    "agreement": pl.Float64,  # majority_vote: share of the prompt's samples reaching its majority answer
    "pass_rate": pl.Float64,  # pass_rate: share of the policy's samples the row's verifier accepts
    # Preference datasets (the preference_pairs step): `response` is the chosen answer, `rejected` the other side.
    "rejected": pl.String,
    "chosen_score": pl.Float64,
    "rejected_score": pl.Float64,
    "margin": pl.Float64,
    "cluster": pl.Int64,  # the clusters step's k-means cell (null: no clusters step in that run)
    "minhash": pl.List(pl.UInt32),  # the minhash step's signature, reused by later runs (null: no minhash step)
}


def to_published(frame: pl.DataFrame) -> pl.DataFrame:
    """Exactly the published columns (and `vector` when present), in order; what a stage did not set is null, so
    every version of a dataset appends to the same table schema whichever filters its run used."""
    vector = ["vector"] if "vector" in frame.columns else []
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in PUBLISHED_SCHEMA.items() if name not in frame.columns]
    return frame.with_columns(missing).select(
        *(pl.col(name).cast(dtype) for name, dtype in PUBLISHED_SCHEMA.items()), *vector
    )


def rows_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows as a frame with every column of ROW_SCHEMA; what a recipe does not set is null."""
    return pl.DataFrame(rows, schema=ROW_SCHEMA)


def with_decision(frame: pl.DataFrame, stage: str, score: pl.Series | float | None) -> pl.DataFrame:
    """Append one filter's score to every row's `decisions` list (the kept rows' audit trail)."""
    if "decisions" not in frame.columns:
        frame = frame.with_columns(pl.lit([], dtype=pl.List(DECISION)).alias("decisions"))
    scores = score if isinstance(score, pl.Series) else pl.repeat(score, frame.height, dtype=pl.Float64, eager=True)
    entry = pl.struct(pl.lit(stage).alias("stage"), scores.cast(pl.Float64).alias("score"))
    return frame.with_columns(pl.col("decisions").list.concat(pl.concat_list(entry)))


def teacher_params(
    provider: str | None, model: str | None, *, temperature: float | None = None, top_p: float | None = None,
    max_tokens: int | None = None, **identity,
) -> str:
    """A row's `teacher_params`, one shape for every recipe and stage: who answered (provider, model and what else
    identifies it, e.g. a local model's file hash) and the sampling it was asked with (None: not set), as canonical
    JSON."""
    return json.dumps({"provider": provider, "model": model, **identity, "temperature": temperature, "top_p": top_p,
                       "max_tokens": max_tokens}, sort_keys=True)


def decided(frame: pl.DataFrame) -> pl.DataFrame:
    """Every (stage, score) of the rows' `decisions` trails, one per row and stage (empty without a trail)."""
    if "decisions" not in frame.columns or frame.height == 0:
        return pl.DataFrame(schema={"stage": pl.String, "score": pl.Float64})
    return frame.select(pl.col("decisions").explode().struct.unnest()).drop_nulls("stage")


def to_chat_messages(frame: pl.DataFrame) -> pl.DataFrame:
    """SFT view: one `messages` list per row; single-turn rows become user (instruction + input) -> assistant."""
    user = pl.when(pl.col("input").fill_null("") == "").then(pl.col("instruction")).otherwise(
        pl.concat_str([pl.col("instruction"), pl.col("input")], separator="\n\n")
    )
    single_turn = pl.concat_list(
        pl.struct(pl.lit("user").alias("role"), user.alias("content")),
        pl.struct(pl.lit("assistant").alias("role"), pl.col("response").alias("content")),
    )
    return frame.select("id", pl.coalesce(pl.col("messages"), single_turn).alias("messages"))
