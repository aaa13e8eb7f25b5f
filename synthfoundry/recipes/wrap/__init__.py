"""Document rephrasing for pre-training (WRAP, Maini et al. 2024).

Noisy web text is rephrased by a model in a few styles (Wikipedia-like, question/answer, easy enough for a toddler,
hard and scholarly) with the paper's style prompts, one passage (about 300 tokens, as in the paper) at a time. The
paper trains on the rephrasings mixed with the real text; this recipe makes the rephrasings.

The recipe rephrases in-recipe (DISTILL = False) rather than leaving it to distillation: a rephrasing too short for
pre-training (the `pretrain` contract asks for 50 characters) must be ledgered with a reason before the contract
gate, which would otherwise fail the whole run. Each row: the full prompt in `instruction`, the rephrased text in
`response`, the style and source document in `metadata`.
"""

from __future__ import annotations

import json
import random
from typing import Literal

import polars as pl
from pydantic import Field, field_validator

from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.common import teacher_columns
from synthfoundry.recipes.document_seeds import (
    DocumentSeeds,
    Passage,
    as_content,
    ask_each,
    passages,
    read_documents,
    seed_passages,
    unmark,
    why_unusable,
    with_unreadable,
)
from synthfoundry.recipes.templates import load_template
from synthfoundry.records import content_id, rows_frame
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, split
from synthfoundry.teachers.base import Completion, TeacherFailure

NAME = "wrap"
VERSION = "3"  # 3: documents datamarked (spotlighting); 2: documents between delimiters, marked as content
KIND = "pretrain"
DISTILL = False  # the recipe rephrases, so it can ledger rephrasings too short to publish
ANSWERS = False  # no ground truth a program can check
EMBED_COLUMN = "response"
FILTERS = ({"name": "injection"}, {"name": "diversity"})  # default filter steps, in order

Style = Literal["wikipedia", "qa", "easy", "hard"]
STYLES = {style: load_template(__package__, style) for style in ("wikipedia", "qa", "easy", "hard")}


class Config(DocumentSeeds):
    """WRAP (Maini et al. 2024): rephrase documents in styles (Wikipedia-like, Q/A, easy, hard) for pre-training."""

    name: Literal["wrap"] = "wrap"
    styles: tuple[Style, ...] = Field(
        default=("wikipedia", "qa", "easy", "hard"), min_length=1, description="styles to rephrase in"
    )
    styles_per_passage: int | None = Field(
        default=None, ge=1, description="rephrase each passage in this many of `styles`, drawn with the run seed; "
        "default: every style"
    )
    passage_chars: int = Field(
        default=1200, ge=100, description="documents are rephrased in paragraph-aligned passages of at most this"
    )
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=16, description="tokens per rephrased passage")
    min_response_chars: int = Field(default=50, ge=1, description="shorter rephrasings are ledgered")
    drop_truncated: bool = Field(default=True, description="ledger rephrasings cut off at max_tokens")

    @field_validator("styles")
    @classmethod
    def _distinct(cls, styles: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(styles)) != len(styles):
            raise ValueError("each style may be listed once")
        return styles


def render(style: str, passage: str) -> str:
    return STYLES[style].render(passage=as_content(passage)).strip()


def plan(config: Config, items: list[Passage], rng: random.Random) -> list[tuple[Passage, str]]:
    """(passage, style) pairs to rephrase: every style, or `styles_per_passage` of them drawn per passage."""
    count = config.styles_per_passage
    return [
        (passage, style)
        for passage in items
        for style in (config.styles if count is None else rng.sample(config.styles, min(count, len(config.styles))))
    ]


def _row(passage: Passage, style: str, output: Completion | TeacherFailure, config: Config) -> dict:
    prompt = render(style, passage.text)
    template_hash = STYLES[style].hash
    row = {
        "id": content_id(NAME, VERSION, template_hash, prompt, passage.document_id),
        "recipe": NAME,
        "recipe_version": VERSION,
        "template_hash": template_hash,
        "seed_ids": [passage.document_id],
        "instruction": prompt,
        "input": "",
        "metadata": json.dumps(passage.metadata() | {"style": style}),
    }
    if isinstance(output, Completion):
        response = unmark(output.text).strip()
        row |= {"response": response} | teacher_columns([output], config.temperature, config.max_tokens)
    return row


def estimate(config: Config) -> Estimate:
    """One request per passage and style, each at most the longest style's prompt."""
    items = seed_passages(config, config.passage_chars)
    per_passage = min(config.styles_per_passage or len(config.styles), len(config.styles))
    total = Estimate()
    for passage in items:
        longest = max(prompt_tokens(render(style, passage.text)) for style in config.styles)
        total += Estimate.asking(per_passage, longest, config.max_tokens)
    return total.passing(len(items) * per_passage)


def rephrase(config: Config, items: list[Passage], ask: Ask, rng: random.Random) -> StageResult:
    jobs = plan(config, items, rng)
    outputs = ask_each(ask, [render(style, p.text) for p, style in jobs], config.temperature, config.max_tokens)
    rows = [_row(passage, style, output, config) for (passage, style), output in zip(jobs, outputs, strict=True)]
    reasons = [
        why_unusable(output, row.get("response") or "", config.min_response_chars, config.drop_truncated)
        for row, output in zip(rows, outputs, strict=True)
    ]
    return split(rows_frame(rows), "synthesis", pl.Series(reasons, dtype=pl.String))


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    documents = read_documents(config, log)
    items = passages(documents.frame, config.passage_chars)
    result = with_unreadable(rephrase(config, items, ask, rng), documents)
    log(f"wrap: {len(items)} passages from {documents.frame.height} documents ({len(documents.unreadable)} "
        f"unreadable) -> {result.counts['kept']} rephrasings kept, {result.counts['dropped']} ledgered")
    return result
