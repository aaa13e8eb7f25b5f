"""Decontamination: drop rows whose text overlaps a benchmark's, so nobody trains on the test set.

Word n-gram overlap on normalised text (case, punctuation and numbers do not count: see `synthfoundry.ngrams`);
13-grams by default, as GPT-3 and datatrove use. Optionally also embedding similarity, which catches paraphrases
n-grams miss. Each field (instruction, input, response) is checked against each benchmark; the reason names the
benchmark (first, so the manifest counts hits per benchmark), the item and an overlapping n-gram. The score is the
highest share of a field's n-grams found in a benchmark.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from synthfoundry.benchmarks import GSM8K_TEST, Benchmark, BenchmarkIndex, index, vectors
from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.ngrams import Ngrams, ngrams, show
from synthfoundry.strict import Strict

NAME = "decontamination"
COMPARES_ROWS = False

Text = Literal["instruction", "input", "response"]


class Config(Strict):
    """Drop rows sharing word n-grams (or, optionally, meaning) with a benchmark's items."""

    name: Literal["decontamination"] = "decontamination"
    benchmarks: tuple[Benchmark, ...] = Field(
        default=(GSM8K_TEST,), description="benchmark sets: [{name, path, columns}]; default: GSM8K test (shipped)"
    )
    fields: tuple[Text, ...] = Field(
        default=("instruction", "input", "response"), min_length=1, description="row texts to check"
    )
    ngram: int = Field(default=13, ge=1, description="words per n-gram (13: GPT-3, datatrove)")
    min_overlap: float = Field(
        default=1, gt=0,
        description=">= 1: a text sharing this many n-grams with a benchmark is contaminated; "
        "< 1: sharing this share of its n-grams",
    )
    embedding_threshold: float | None = Field(
        default=None, gt=0, le=1,
        description="also drop a text whose embedding has at least this cosine to a benchmark text (e.g. 0.9)",
    )


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    reasons: list[str | None] = [None] * frame.height
    scores = np.zeros(frame.height)
    texts = pl.concat([frame[field].cast(pl.String) for field in config.fields])  # field-major: text = f * rows + row
    grams = ngrams(texts, config.ngram)  # once per batch, for every benchmark
    for benchmark in config.benchmarks:
        _ngram_hits(grams, len(texts), index(benchmark, config.ngram), config, reasons, scores)
    if config.embedding_threshold is not None:
        for benchmark in config.benchmarks:
            for field in config.fields:
                _embedding_hits(frame, field, index(benchmark, config.ngram), config, tools, reasons)
    return Verdicts(reasons, scores.tolist())


def _ngram_hits(
    grams: Ngrams, texts: int, bench: BenchmarkIndex, config: Config, reasons: list, scores: np.ndarray
) -> None:
    n, rows = config.ngram, len(reasons)
    owners = bench.ngrams.owner(grams.hashes)
    hit = owners >= 0
    shared = np.bincount(grams.text[hit], minlength=texts)
    total = np.bincount(grams.text, minlength=texts)
    share = np.divide(shared, total, out=np.zeros(texts), where=total > 0)
    np.maximum(scores, share.reshape(-1, rows).max(axis=0), out=scores)
    limit = config.min_overlap
    contaminated = (shared >= limit) if limit >= 1 else (share >= limit) & (shared > 0)
    hits = np.flatnonzero(hit)
    texts_hit, first = np.unique(grams.text[hits], return_index=True)  # n-grams are in text, then word order
    first_hit = dict(zip(texts_hit.tolist(), hits[first].tolist()))
    for text in np.flatnonzero(contaminated):
        field, row = divmod(int(text), rows)
        if reasons[row] is not None:
            continue
        at = first_hit[text]
        reasons[row] = (
            f"{bench.benchmark.name}: {config.fields[field]} shares {shared[text]} of {total[text]} {n}-grams with "
            f"{bench.items.labels[owners[at]]}, e.g. \"{show(grams, text, grams.start[at], n)}\""
        )


def _embedding_hits(
    frame: pl.DataFrame, field: str, bench: BenchmarkIndex, config: Config, tools: Tools, reasons: list
) -> None:
    todo = [i for i, (reason, text) in enumerate(zip(reasons, frame[field].to_list())) if reason is None and text]
    if not todo:
        return
    if field == tools.text_column and "vector" in frame.columns:
        rows = frame["vector"].to_numpy()[todo]
    else:
        rows = tools.embed([frame[field][i] for i in todo])
    cosine = rows @ vectors(bench.benchmark, tools.embed).T
    nearest = cosine.argmax(axis=1)
    best = cosine[np.arange(len(todo)), nearest]
    for row, item, similarity in zip(todo, nearest, best):
        if similarity >= config.embedding_threshold:
            reasons[row] = (
                f"{bench.benchmark.name}: {field} is close to {bench.items.labels[item]} "
                f"(cosine {similarity:.3f} >= {config.embedding_threshold})"
            )
