"""Hugging Face dataset layout: Parquet shards under `data/` and a README.md card whose YAML front matter tells
`datasets.load_dataset(folder)` and the Hub which files form which split."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import yaml

from synthfoundry.exporters.base import ExportOptions, plain_columns

NAME = "hf"

# The Hub's task categories per dataset kind (the contract suite a version was checked with).
TASK_CATEGORIES = {
    "sft": ["text-generation"],
    "chat": ["text-generation"],
    "preference": ["text-generation"],
    "rlvr": ["reinforcement-learning", "text-generation"],
    "pretrain": ["text-generation"],
    "tool_use": ["text-generation"],
}
_SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]


def size_category(rows: int) -> str:
    return next((label for bound, label in _SIZES if rows < bound), "n>1B")


def front_matter(manifest: dict, rows: int, options: ExportOptions) -> dict:
    kind = (manifest.get("contract") or {}).get("suite", "sft")
    return {
        "pretty_name": f"{manifest['dataset']} {manifest['version']}",
        "license": options.license,
        "task_categories": TASK_CATEGORIES.get(kind, ["text-generation"]),
        "size_categories": [size_category(rows)],
        "tags": ["synthetic", "synthfoundry", kind],
        "configs": [
            {"config_name": "default", "data_files": [{"split": options.split, "path": f"data/{options.split}-*"}]}
        ],
    }


def _summary(manifest: dict, rows: int) -> str:
    return (
        f"# {manifest['dataset']} {manifest['version']}\n\n"
        f"{rows} synthetic rows made by synthfoundry (code {manifest.get('code_version')}, "
        f"run {manifest.get('run_id')}).\n"
    )


def export(rows: pl.DataFrame, manifest: dict, out: Path, options: ExportOptions) -> list[Path]:
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for stale in data.glob(f"{options.split}-*-of-*.parquet"):  # a smaller re-export must not leave old shards
        stale.unlink()
    table = plain_columns(rows, options)
    shards = max(1, math.ceil(table.height / options.shard_rows))
    written = []
    for index in range(shards):
        path = data / f"{options.split}-{index:05d}-of-{shards:05d}.parquet"
        table.slice(index * options.shard_rows, options.shard_rows).write_parquet(path)
        written.append(path)
    card = out / "README.md"
    header = yaml.safe_dump(front_matter(manifest, table.height, options), sort_keys=False)
    card.write_text(f"---\n{header}---\n\n{options.card or _summary(manifest, table.height)}")
    return [*written, card]
