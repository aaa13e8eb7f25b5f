"""Backfills: one base run config fanned out over shards (seeds, document files or globs, date-partitioned
documents, teacher models), each shard a complete run config of its own.

A shard's key is the hash of its config, so the same backfill asked twice names the same child runs (Prefect's
idempotency key): finished shards are not run again, and only what is missing is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from synthfoundry.config import RunConfig, parse_config
from synthfoundry.strict import Strict


class SeedShards(Strict):
    """One child run per seed: more of the same recipe, each seed its own reproducible stream."""

    kind: Literal["seeds"] = "seeds"
    seeds: list[int] = Field(min_length=1, description="one child run per seed")


class FileShards(Strict):
    """One child run per file: each goes into the recipe's seed field (documents, seed_tasks, topics_file)."""

    kind: Literal["files"] = "files"
    paths: list[str] = Field(min_length=1, description="files or globs (fsspec URLs too); one child per file found")
    field: str = Field(default="documents", description="the recipe field each child's file goes into")


class DateShards(Strict):
    """One child run per day (or every `every_days`) of date-partitioned documents."""

    kind: Literal["dates"] = "dates"
    start: date = Field(description="first day")
    end: date = Field(description="last day (included)")
    every_days: int = Field(default=1, ge=1, description="days between shards")
    path: str = Field(description="documents of one day, with a {date} placeholder, e.g. s3://crawl/{date:%Y/%m/%d}/*.jsonl")
    field: str = Field(default="documents", description="the recipe field each day's documents go into")

    @model_validator(mode="after")
    def _ordered(self) -> DateShards:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if "{date" not in self.path:
            raise ValueError("path needs a {date} placeholder, e.g. crawl/{date:%Y-%m-%d}/*.jsonl")
        return self


class TeacherShards(Strict):
    """One child run per teacher model (same provider and settings)."""

    kind: Literal["teachers"] = "teachers"
    models: list[str] = Field(min_length=1, description="one child run per model")


Shards = Annotated[
    Annotated[SeedShards, Field(title="seeds")]
    | Annotated[FileShards, Field(title="files")]
    | Annotated[DateShards, Field(title="dates")]
    | Annotated[TeacherShards, Field(title="teachers")],
    Field(discriminator="kind"),
]


@dataclass(frozen=True)
class Shard:
    name: str
    config: RunConfig

    @property
    def key(self) -> str:
        """The same shard of the same backfill always has this key (and so maps to the same child run)."""
        text = json.dumps(self.config.model_dump(mode="json"), sort_keys=True)
        return f"{self.config.dataset}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def expand(base: RunConfig, shards: SeedShards | FileShards | DateShards | TeacherShards) -> list[Shard]:
    """Every shard's run config, validated like any run config (a field the recipe lacks is reported by name)."""
    if isinstance(shards, SeedShards):
        return [_shard(base, f"seed-{seed}", ("seed",), seed) for seed in shards.seeds]
    if isinstance(shards, TeacherShards):
        return [_shard(base, f"teacher-{model}", ("teacher", "model"), model) for model in shards.models]
    if isinstance(shards, FileShards):
        files = [found for pattern in shards.paths for found in _glob(pattern)]
        return [_shard(base, f"file-{path}", ("recipe", shards.field), path) for path in files]
    days = range(0, (shards.end - shards.start).days + 1, shards.every_days)
    dates = [shards.start + timedelta(days=offset) for offset in days]
    return [
        _shard(base, f"date-{day}", ("recipe", shards.field), shards.path.format(date=day)) for day in dates
    ]


def _shard(base: RunConfig, name: str, where: tuple[str, ...], value: object) -> Shard:
    data = base.model_dump(mode="json")
    target = data
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = value
    return Shard(name, parse_config(data, f"backfill shard {name}"))


def _glob(pattern: str) -> list[str]:
    """The files a pattern names, as URLs the documents loader reads (plain paths for local files)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(pattern)
    if not any(ch in path for ch in "*?["):
        return [pattern]
    found = sorted(fs.glob(path))
    if not found:
        raise ValueError(f"backfill: {pattern!r} matches no file")
    return found if "file" in fs.protocol else [fs.unstrip_protocol(p) for p in found]
