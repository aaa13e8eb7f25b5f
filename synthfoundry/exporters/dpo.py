"""TRL DPO, conversational form (UltraFeedback-binarised shape): `prompt` turns, `chosen` and `rejected` assistant
turns, and their judge scores. A preference row's `response` is the chosen answer, `rejected` the other one."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synthfoundry.exporters.base import ExportError, ExportOptions, with_reasoning, write_table
from synthfoundry.records import to_chat_messages

NAME = "dpo"
PREFERENCE_COLUMNS = ("rejected", "chosen_score", "rejected_score", "margin")


def _assistant(content: pl.Expr) -> pl.Expr:
    return pl.concat_list(pl.struct(pl.lit("assistant").alias("role"), content.alias("content")))


def export(rows: pl.DataFrame, manifest: dict, out: Path, options: ExportOptions) -> list[Path]:
    unset = rows.height if "rejected" not in rows.columns else rows["rejected"].null_count()
    if unset or any(name not in rows.columns for name in PREFERENCE_COLUMNS):
        raise ExportError(
            f"{manifest['dataset']} {manifest['version']} is not a preference dataset ({unset} of {rows.height} rows "
            "have no rejected answer): DPO needs a chosen and a rejected answer per prompt; publish one with the "
            "preference_pairs step (n >= 2 samples and a judge), or export this version with --format trl"
        )
    conversation = to_chat_messages(rows)["messages"]
    chosen = pl.col("response")
    rejected = pl.col("rejected")
    if options.reasoning == "keep":
        if "reasoning" in rows.columns:
            chosen = with_reasoning(chosen, pl.col("reasoning"))
        if "rejected_reasoning" in rows.columns:
            rejected = with_reasoning(rejected, pl.col("rejected_reasoning"))
    pairs = rows.with_columns(conversation.alias("_conversation")).select(
        "id",
        pl.col("_conversation").list.head(pl.col("_conversation").list.len() - 1).alias("prompt"),
        _assistant(chosen).alias("chosen"),
        _assistant(rejected).alias("rejected"),
        pl.col("chosen_score").alias("score_chosen"),
        pl.col("rejected_score").alias("score_rejected"),
        "margin",
    )
    return [write_table(pairs, out / f"{options.split}.{options.file_format}", options.file_format)]
