"""TRL SFT, conversational form: one `messages` list per row, which `SFTTrainer` renders with the chat template.

Tool-use rows add `tools` (the JSON schemas as JSON text, which SFTTrainer parses and passes to
`apply_chat_template(messages, tools=...)`); their messages carry assistant `tool_calls` and `tool` turns.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synthfoundry.exporters.base import (
    ExportOptions,
    chat_messages,
    conversations,
    has_trajectories,
    write_records,
    write_table,
)

NAME = "trl"


def export(rows: pl.DataFrame, manifest: dict, out: Path, options: ExportOptions) -> list[Path]:
    path = out / f"{options.split}.{options.file_format}"
    if has_trajectories(rows):
        return [write_records(conversations(rows, options), path, options.file_format)]
    return [write_table(chat_messages(rows, options), path, options.file_format)]
