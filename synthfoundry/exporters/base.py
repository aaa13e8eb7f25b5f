"""What every exporter shares: its options, its error, and how a reasoning trace rides along in a chat turn."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from synthfoundry.errors import UserError
from synthfoundry.records import to_chat_messages

THINK_OPEN, THINK_CLOSE = "<think>\n", "\n</think>\n\n"


class ExportError(UserError, ValueError):
    """The version cannot be exported in that format; the message says what is missing and what to use instead."""


@dataclass(frozen=True)
class ExportOptions:
    reasoning: Literal["keep", "drop"] = "keep"  # keep: traces in the assistant turn (chat formats) or column
    file_format: Literal["jsonl", "parquet"] = "jsonl"  # trl and dpo: the file trainers load
    split: str = "train"
    shard_rows: int = 100_000  # hf: rows per Parquet shard
    license: str = "unknown"  # hf: the card's licence (a Hub licence id)
    card: str | None = None  # hf: markdown body of README.md (default: a summary of the manifest)
    answer_format: Literal["system", "user", "none"] = "system"  # verl: where prompts say how to end the answer


def plain_columns(rows: pl.DataFrame, options: ExportOptions) -> pl.DataFrame:
    """Every column but the embedding, and without `reasoning` when traces are dropped."""
    dropped = {"vector"} | ({"reasoning"} if options.reasoning == "drop" else set())
    return rows.drop([name for name in rows.columns if name in dropped])


def with_reasoning(content: pl.Expr, reasoning: pl.Expr) -> pl.Expr:
    """`<think>trace</think>` before the answer, the convention of DeepSeek-R1 / Qwen3 chat templates."""
    return (
        pl.when(reasoning.fill_null("") != "")
        .then(pl.concat_str([pl.lit(THINK_OPEN), reasoning, pl.lit(THINK_CLOSE), content]))
        .otherwise(content)
    )


def chat_messages(rows: pl.DataFrame, options: ExportOptions) -> pl.DataFrame:
    """`id` + `messages`; with `reasoning: keep` the final assistant turn starts with the row's trace."""
    chat = to_chat_messages(rows)
    if options.reasoning == "drop" or "reasoning" not in rows.columns:
        return chat
    messages = pl.col("messages")
    last = messages.list.last()
    traced = pl.struct(
        last.struct.field("role").alias("role"),
        pl.when(last.struct.field("role") == "assistant")
        .then(with_reasoning(last.struct.field("content"), pl.col("reasoning")))
        .otherwise(last.struct.field("content"))
        .alias("content"),
    )
    return (
        chat.with_columns(rows["reasoning"])
        .with_columns(messages.list.head(messages.list.len() - 1).list.concat(pl.concat_list(traced)).alias("messages"))
        .drop("reasoning")
    )


def has_trajectories(rows: pl.DataFrame) -> bool:
    """Tool-use rows: their conversation is the `trajectory` (calls and results), not `messages`."""
    return "trajectory" in rows.columns and rows["trajectory"].null_count() < rows.height


def conversations(rows: pl.DataFrame, options: ExportOptions) -> list[dict]:
    """`id` + `messages` per row as plain dicts, with `tools` (the schemas' JSON text) for tool-use rows: the
    messages keep assistant `tool_calls` (arguments as JSON text, the OpenAI form) and `tool` turns as published."""
    plain = dict(chat_messages(rows, options).iter_rows())
    if not has_trajectories(rows):
        return [{"id": row_id, "messages": messages, "tools": None} for row_id, messages in plain.items()]
    found = []
    for row_id, trajectory, tools in rows.select("id", "trajectory", "tools").iter_rows():
        if trajectory is None:
            found.append({"id": row_id, "messages": plain[row_id], "tools": None})
        else:
            found.append({"id": row_id, "messages": json.loads(trajectory), "tools": tools})
    return found


def write_records(records: list[dict], path: Path, file_format: str) -> Path:
    """Rows of nested dicts as written (JSONL lines without null filler keys, or Parquet through Arrow)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
    else:
        with path.open("w") as out:
            out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    return path


def write_table(frame: pl.DataFrame, path: Path, file_format: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_ndjson(path)
    return path


def is_url(place: str) -> bool:
    """A place an exporter cannot write to as a local folder (s3://..., any fsspec URL)."""
    return "://" in str(place)


def deliver(scratch: Path, destination: str, storage=None) -> list[str]:
    """Copy every file an export wrote under the local folder `scratch` to `destination` (a URL, reached with
    `storage`, the StorageOptions of its store), keeping their paths under it; returns where they are now.
    Exporters write local files; this is how they reach a bucket."""
    from synthfoundry.dataset.files import Folder

    target = Folder(destination, storage)
    places = []
    for path in sorted(p for p in scratch.rglob("*") if p.is_file()):
        place = target.path(path.relative_to(scratch).as_posix())
        target.upload(str(path), place)
        places.append(place)
    return places
