"""Benchmark sets that published data must not contain, loaded once per process into n-gram indexes (and, when asked,
embedding matrices).

GSM8K test (MIT, shipped in `seeds/benchmarks/gsm8k/`) is the default; any jsonl or parquet file or glob can be
added, naming its text columns. An index is cached by the files' paths, sizes and modification times and its
settings, so every batch of a run (and every run in a worker process) reuses it, and an edited file is re-read.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from synthfoundry.errors import UserError
from synthfoundry.ngrams import NgramIndex
from synthfoundry.strict import Strict


class BenchmarkError(UserError, ValueError):
    """A benchmark set that cannot be read; the message names the file and what to fix."""


def shipped_gsm8k() -> Path:
    return Path(str(resources.files("synthfoundry") / "seeds" / "benchmarks" / "gsm8k" / "test.jsonl"))


class Benchmark(Strict):
    """One benchmark set: a name for the ledger, where its items are, which columns hold their text."""

    name: str = Field(description="how ledger reasons and the manifest name it, e.g. gsm8k")
    path: str = Field(description="a .jsonl/.parquet file or a glob of them")
    columns: tuple[str, ...] = Field(min_length=1, description="the text columns to check against, e.g. [question]")
    id_column: str | None = Field(
        default=None, description="column naming each item; default: file name and line (row) number"
    )

    @field_validator("name")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        if not value.strip() or ":" in value:
            raise ValueError("must be non-empty and contain no ':' (ledger reasons start with '<name>: ')")
        return value


GSM8K_TEST = Benchmark(name="gsm8k", path=str(shipped_gsm8k()), columns=("question",))


@dataclass(frozen=True)
class Items:
    """A benchmark's texts, one per (item, column), with each text's item label."""

    texts: pl.Series
    labels: list[str]  # per text


@dataclass(frozen=True)
class BenchmarkIndex:
    benchmark: Benchmark
    items: Items
    ngrams: NgramIndex


def files(benchmark: Benchmark) -> list[Path]:
    found = sorted(glob.glob(benchmark.path, recursive=True)) if glob.has_magic(benchmark.path) else [benchmark.path]
    paths = [Path(p) for p in found if Path(p).is_file()]
    if not paths:
        raise BenchmarkError(f"benchmark {benchmark.name!r}: no file at {benchmark.path!r} (give a path or a glob)")
    return paths


def _versions(benchmark: Benchmark) -> tuple:
    """Each file's identity and version: a cached index is rebuilt when one changes."""
    return tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files(benchmark))


def load_items(benchmark: Benchmark) -> Items:
    texts, labels = [], []
    for path in files(benchmark):
        frame = _read(path, benchmark.name)
        wanted = [*benchmark.columns, *([benchmark.id_column] if benchmark.id_column else [])]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise BenchmarkError(
                f"benchmark {benchmark.name!r}: {path} has no column {', '.join(map(repr, missing))} "
                f"(its columns: {', '.join(frame.columns)}); set `columns` (and `id_column`) to the text columns"
            )
        ids = (
            frame[benchmark.id_column].cast(pl.String).to_list() if benchmark.id_column
            else [f"{path.name}:{row}" for row in range(1, frame.height + 1)]
        )
        for column in benchmark.columns:
            texts.append(frame[column].cast(pl.String))
            labels.extend(ids)
    return Items(pl.concat(texts), labels)


def _read(path: Path, name: str) -> pl.DataFrame:
    if path.stat().st_size == 0:
        raise BenchmarkError(f"benchmark {name!r}: {path} is empty: point `path` at the benchmark's items")
    try:
        if path.suffix in (".jsonl", ".json", ".ndjson"):
            return pl.read_ndjson(path, infer_schema_length=None)
        if path.suffix == ".parquet":
            return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise BenchmarkError(f"benchmark {name!r}: cannot read {path} ({error})") from None
    raise BenchmarkError(f"benchmark {name!r}: {path} is neither .jsonl nor .parquet")


def index(benchmark: Benchmark, n: int) -> BenchmarkIndex:
    """The benchmark's n-gram index, built once per process per file version and setting."""
    return _cached_index(benchmark, _versions(benchmark), n)


@lru_cache(maxsize=16)
def _cached_index(benchmark: Benchmark, versions: tuple, n: int) -> BenchmarkIndex:
    items = load_items(benchmark)
    return BenchmarkIndex(benchmark, items, NgramIndex.build(items.texts, n))


_VECTORS: dict[tuple, np.ndarray] = {}


def vectors(benchmark: Benchmark, embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """The benchmark's texts embedded, once per process per file version and embedding model (told apart by the
    vector of a probe text, since the embedder arrives as a function)."""
    model = embed(["benchmark probe"]).tobytes()
    key = (benchmark, _versions(benchmark), model)
    if key not in _VECTORS:
        _VECTORS[key] = embed(load_items(benchmark).texts.fill_null("").to_list())
    return _VECTORS[key]
