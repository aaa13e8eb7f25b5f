"""Every column (but the embedding) as JSON lines: the format any tool reads."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synthfoundry.exporters.base import ExportOptions, plain_columns, write_table

NAME = "jsonl"


def export(rows: pl.DataFrame, manifest: dict, out: Path, options: ExportOptions) -> list[Path]:
    return [write_table(plain_columns(rows, options), out / f"{options.split}.jsonl", "jsonl")]
