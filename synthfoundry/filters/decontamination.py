"""Decontamination: drop rows whose text overlaps a benchmark's, so nobody trains on the test set.

Word n-gram overlap on normalised text (case, punctuation and numbers do not count: see `synthfoundry.ngrams`);
13-grams by default, as GPT-3 and datatrove use. A text or benchmark item shorter than that is checked whole (down
to `shortest` words): a short text found inside an item, or a short item inside a text, is contaminated. Optionally
also embedding similarity (each text's nearest benchmark item), which catches paraphrases and edits n-grams miss,
and optionally a model's confirmation of each such candidate pair, as NeMo-Skills does. Each field (instruction,
input, response) is checked against each benchmark; the reason names the benchmark (first, so the manifest counts
hits per benchmark), the item and the overlap. The score is the highest share of a field's n-grams found in a
benchmark (1 for a text or item found whole). A code benchmark (`code: true`, e.g. HumanEval) is compared after code
normalisation (`synthfoundry.similarity.code`), so renamed, reformatted or commented copies of its solutions match;
by n-grams only (short normalised code, `def x x return x`, is in every code benchmark).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from synthfoundry.benchmarks import GSM8K_TEST, Benchmark, BenchmarkIndex, index, vectors
from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.ngrams import Ngrams, hashed_words, show
from synthfoundry.similarity.code import normalise_code
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.strict import Strict
from synthfoundry.teachers.base import ChatRequest, TeacherFailure
from synthfoundry.teachers.config import TeacherConfig

NAME = "decontamination"
COMPARES_ROWS = False
# Defaults measured with `python -m bench.decontamination --quality` (Self-Instruct seed tasks, lightly edited
# copies vs unrelated texts; GSM8K train vs test): whole down to 6 words and cosine 0.9 caught 90 % of the copies
# (13-grams alone: 40 %) and dropped no unrelated text; 4 words dropped one, cosine 0.85 dropped 12 more GSM8K train
# questions.
SHORTEST = 6
# HumanEval's 164 solutions disguised (names changed, docstring dropped, comments added) against 534 functions of
# Python's standard library: 13 tokens caught 148 and dropped 15 library functions, 20 caught 123 and dropped 2,
# 25 caught 95 and dropped none.
CODE_NGRAM = 20
EMBEDDING_THRESHOLD = 0.9

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
    code_ngram: int = Field(
        default=CODE_NGRAM, ge=1,
        description="tokens per n-gram against code benchmarks (operators count as tokens, so code needs more)",
    )
    shortest: int = Field(
        default=SHORTEST, ge=1,
        description="texts and benchmark items shorter than `ngram` words are checked whole, down to this many "
        "words: a short text inside an item, or a short item inside a text, is contaminated",
    )
    min_overlap: float = Field(
        default=1, gt=0,
        description=">= 1: a text sharing this many n-grams with a benchmark is contaminated; "
        "< 1: sharing this share of its n-grams",
    )
    embedding_threshold: float | None = Field(
        default=EMBEDDING_THRESHOLD, gt=0, le=1,
        description="also drop a text whose embedding (MiniLM) has at least this cosine to its nearest benchmark "
        "text: edits n-grams miss (a word dropped from a short text); none: n-grams only",
    )
    confirm: bool = Field(
        default=False,
        description="ask a model whether each text above embedding_threshold is the same task as its nearest "
        "benchmark item, and drop only those it confirms (NeMo-Skills' check); lets embedding_threshold go lower",
    )
    judge: TeacherConfig | None = Field(default=None, description="the model that confirms; default: the run's teacher")

    @model_validator(mode="after")
    def _confirms_candidates(self) -> Config:
        if self.confirm and self.embedding_threshold is None:
            raise ValueError(
                "confirm needs embedding_threshold (the cosine above which a pair is a candidate, e.g. 0.7)"
            )
        return self


CONFIRM = (
    "Are these two the same task? Ignore differences in wording, word order, names, formatting and the numbers "
    "used: they are the same task if someone who has seen one has in effect seen the other. Answer yes or no.\n\n"
    "First:\n{text}\n\nSecond:\n{item}"
)
CONFIRM_TOKENS = 4


def estimate(config: Config, rows: int, row_tokens: int) -> Estimate:
    """With `confirm`, at most one question per row, field and benchmark (each text and an item as long)."""
    if not config.confirm:
        return Estimate().passing(rows, row_tokens)
    count = rows * len(config.fields) * len(config.benchmarks)
    return Estimate.asking(count, prompt_tokens(CONFIRM) + 2 * row_tokens, CONFIRM_TOKENS).passing(rows, row_tokens)


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    reasons: list[str | None] = [None] * frame.height
    scores = np.zeros(frame.height)
    texts = pl.concat([frame[field].cast(pl.String) for field in config.fields])  # field-major: text = f * rows + row
    for code in sorted({benchmark.code for benchmark in config.benchmarks}):
        # hashed once per batch for every benchmark of a kind: prose as it is, code benchmarks' texts normalised
        words = hashed_words(texts.map_elements(normalise_code, return_dtype=pl.String) if code else texts)
        n = config.code_ngram if code else config.ngram
        grams = words.windows(n)
        indexes = [index(b, n, config.shortest) for b in config.benchmarks if b.code == code]
        for bench in indexes:
            _ngram_hits(grams, len(texts), bench, config, n, reasons, scores)
        for k in range(config.shortest, config.ngram) if not code else ():  # short code is too generic to match
            inside, whole = words.windows(k), words.windows(k, whole=True)
            for bench in indexes:
                _short_hits(inside, whole, k, bench, config, reasons, scores)
    if config.embedding_threshold is not None:
        for bench in (index(b, config.ngram, config.shortest) for b in config.benchmarks if not b.code):
            for field in config.fields:
                _embedding_hits(frame, field, bench, config, tools, reasons)
    return Verdicts(reasons, scores.tolist())


def _ngram_hits(
    grams: Ngrams, texts: int, bench: BenchmarkIndex, config: Config, n: int, reasons: list, scores: np.ndarray
) -> None:
    rows = len(reasons)
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


def _short_hits(
    inside: Ngrams, whole: Ngrams, k: int, bench: BenchmarkIndex, config: Config, reasons: list, scores: np.ndarray
) -> None:
    """Texts of k < n words found whole in an item, and items of k words found whole in a text (score 1)."""
    rows = len(reasons)
    found = [(inside, bench.whole.owner(inside.hashes), "contains all of")] if k in bench.short_lengths else []
    found.append((whole, bench.ngrams.owner(whole.hashes), "is part of"))
    for grams, owners, relation in found:
        for at in np.flatnonzero(owners >= 0):
            field, row = divmod(int(grams.text[at]), rows)
            scores[row] = 1.0
            if reasons[row] is None:
                reasons[row] = (
                    f"{bench.benchmark.name}: {config.fields[field]} {relation} {bench.items.labels[owners[at]]} "
                    f"({k} words), \"{show(grams, grams.text[at], grams.start[at], k)}\""
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
    close = np.flatnonzero(best >= config.embedding_threshold)
    verdicts = _confirmations(frame[field], [todo[i] for i in close], bench, nearest[close], config, tools) if (
        config.confirm) else [""] * len(close)
    for at, verdict in zip(close, verdicts):
        row, item = todo[at], nearest[at]
        if verdict is not None:
            reasons[row] = (
                f"{bench.benchmark.name}: {field} is close to {bench.items.labels[item]} "
                f"(cosine {best[at]:.3f} >= {config.embedding_threshold}){verdict}"
            )


def _confirmations(texts: pl.Series, rows: list[int], bench: BenchmarkIndex, items: np.ndarray, config: Config,
                   tools: Tools) -> list[str | None]:
    """Per candidate pair: None when the model says they differ, else what to add to the reason. An answer that is
    neither yes nor no, or a failed request, drops the row: a kept copy of a test item costs more than a lost row."""
    if not rows:
        return []
    questions = [CONFIRM.format(text=texts[row], item=bench.items.texts[int(item)]) for row, item in zip(rows, items)]
    requests = [
        ChatRequest(messages=({"role": "user", "content": question},), temperature=0.0, max_tokens=CONFIRM_TOKENS)
        for question in questions
    ]
    out: list[str | None] = []
    for answer in tools.ask(config.judge)(requests):
        if isinstance(answer, TeacherFailure):
            out.append(f"; not confirmed, the model failed: {answer.reason}")
            continue
        word = answer.text.strip().lower().lstrip("*\"'").split(maxsplit=1)[:1]
        if word and word[0].startswith(("no", "false")):
            out.append(None)
        else:
            confirmed = word and word[0].startswith(("yes", "true"))
            out.append(f", confirmed by {answer.model}" if confirmed else f"; {answer.model} answered {answer.text!r}")
    return out
