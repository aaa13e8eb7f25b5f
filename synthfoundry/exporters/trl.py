"""TRL SFT, conversational form: one `messages` list per row, which `SFTTrainer` renders with the chat template."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synthfoundry.exporters.base import ExportOptions, chat_messages, write_table

NAME = "trl"


def export(rows: pl.DataFrame, manifest: dict, out: Path, options: ExportOptions) -> list[Path]:
    path = out / f"{options.split}.{options.file_format}"
    return [write_table(chat_messages(rows, options), path, options.file_format)]
