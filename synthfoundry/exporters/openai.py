"""OpenAI fine-tuning JSONL: `{"messages": [...]}` per line, plus `tools` (the function schemas) and
`parallel_tool_calls` on tool-use rows, whose assistant turns carry `tool_calls` and whose results are `tool` turns."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from synthfoundry.exporters.base import ExportOptions, conversations, write_records

NAME = "openai"


def export(rows: pl.DataFrame, manifest: dict, out: Path, options: ExportOptions) -> list[Path]:
    lines = []
    for record in conversations(rows, options):
        line: dict = {"messages": record["messages"]}
        if record["tools"]:
            line["tools"] = json.loads(record["tools"])
            line["parallel_tool_calls"] = any(len(m.get("tool_calls") or ()) > 1 for m in record["messages"])
        lines.append(line)
    return [write_records(lines, out / f"{options.split}.jsonl", "jsonl")]
