"""Instruction back-translation with self-curation (Humpback, Li et al. 2023).

Human-written text is already a good answer; what is missing is the question. Each document passage is shown to
the model, which writes the instruction the passage answers (the passage becomes the `response`, so nothing is
distilled); the model then rates the (instruction, response) pair on the paper's 1-5 rubric and only pairs rated at
least `min_score` are kept. The paper prompts a fine-tuned backward model; here any instruction model is prompted.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Literal

import polars as pl
from pydantic import Field

from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.common import first_line, teacher_columns
from synthfoundry.recipes.document_seeds import (
    DocumentSeeds,
    Passage,
    as_content,
    ask_each,
    passages,
    read_documents,
    seed_passages,
    unmark,
    with_unreadable,
)
from synthfoundry.recipes.templates import combined_hash, load_template
from synthfoundry.records import content_id, rows_frame
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, split
from synthfoundry.teachers.base import Completion, TeacherFailure

NAME = "backtranslation"
VERSION = "3"  # 3: documents datamarked (spotlighting); 2: documents between delimiters, marked as content
KIND = "sft"
DISTILL = False  # the passage is the response
ANSWERS = False  # no ground truth a program can check
EMBED_COLUMN = "instruction"
FILTERS = ({"name": "injection"}, {"name": "decontamination"}, {"name": "diversity"})  # default filter steps, in order
INSTRUCTION = load_template(__package__, "instruction")
# Self-curation: the paper's rubric, verbatim, as the system turn; the pair and a short reminder as the user turn
# (small models follow a rubric placed there better than one placed after a long passage).
RUBRIC = load_template(__package__, "curation_rubric")
CURATION = load_template(__package__, "curation")
TEMPLATE_HASH = combined_hash(INSTRUCTION, RUBRIC, CURATION)


class Config(DocumentSeeds):
    """Humpback (Li et al. 2023): documents -> the instructions they answer -> self-curated on a 1-5 rubric."""

    name: Literal["backtranslation"] = "backtranslation"
    passage_chars: int = Field(
        default=1500, ge=100, description="documents longer than this are split into paragraph-aligned passages"
    )
    min_score: int = Field(
        default=4, ge=1, le=5,
        description="keep pairs the model rates at least this (the paper's best set keeps 5; 4 keeps more)",
    )
    max_instruction_chars: int = Field(default=1000, ge=10, description="longer generated instructions are ledgered")
    temperature: float = Field(default=0.7, ge=0, le=2, description="sampling temperature for instructions")
    max_tokens: int = Field(default=128, ge=8, description="tokens per generated instruction")
    curation_temperature: float = Field(default=0.0, ge=0, le=2, description="sampling temperature for the rating")
    curation_max_tokens: int = Field(default=256, ge=8, description="tokens for the rating's reasoning and score")


_LABELLED = re.compile(r"^[\W_]*(?:instruction|question|prompt|query|task)\b[^:\n]{0,20}:", re.IGNORECASE)
_SCORE = re.compile(
    r"(?:score|rating|rated|grade|answer is)\W{0,4}(?:is|of|as|=)?\W{0,4}([1-5])(?!\d)(?![.,]\d)", re.IGNORECASE
)
_BARE_SCORE = re.compile(r"^\W*([1-5])(?:\s*/\s*5)?\W*$", re.MULTILINE)  # a line that is only the number


def parse_instruction(text: str) -> str:
    """The instruction in a weak model's reply: a labelled one ("Question: ..."), else the first question asked,
    else the first line of content; "" when there is none."""
    lines = text.splitlines()
    labelled = next((n for n, line in enumerate(lines) if _LABELLED.match(line)), None)
    if labelled is not None:
        return first_line("\n".join(lines[labelled:]), min_words=1) or ""
    question = next((line for line in lines if "?" in line), None)
    if question is not None:
        return first_line(question[: question.rindex("?") + 1], min_words=1) or ""
    return first_line(text, min_words=1) or ""


def parse_score(text: str) -> int | None:
    """The rubric score: the last "Score: N" (or "rating of N", "the answer is N"), else the last line that is
    only a number from 1 to 5; None when there is neither."""
    found = _SCORE.findall(text) or _BARE_SCORE.findall(text)
    return int(found[-1]) if found else None


def screen(instruction: str, passage: str, max_chars: int) -> str | None:
    """Why a generated instruction is unusable, or None."""
    if not instruction:
        return "no instruction in the output"
    if len(instruction.split()) < 3:
        return "instruction too short (< 3 words)"
    if len(instruction) > max_chars:
        return f"instruction too long (> {max_chars} characters)"
    echoed = " ".join(instruction.lower().split()) in " ".join(passage.lower().split())
    if echoed and not instruction.endswith("?"):  # a question the passage itself asks (its title) is fine
        return "instruction copies the passage"
    return None


def render_instruction(passage: str) -> str:
    return INSTRUCTION.render(passage=as_content(passage))


def render_curation(instruction: str, response: str) -> str:
    return CURATION.render(instruction=instruction, response=response)


@dataclass
class Candidate:
    passage: Passage
    written: Completion | TeacherFailure
    instruction: str = ""
    score: int | None = None
    reason: str | None = None
    rated: Completion | None = None


def _row(candidate: Candidate, config: Config) -> dict:
    passage = candidate.passage
    metadata = passage.metadata() | {"curation_score": candidate.score}
    row = {
        "id": content_id(NAME, VERSION, TEMPLATE_HASH, candidate.instruction, passage.text, passage.document_id),
        "recipe": NAME,
        "recipe_version": VERSION,
        "template_hash": TEMPLATE_HASH,
        "seed_ids": [passage.document_id],
        "instruction": candidate.instruction,
        "input": "",
        "response": passage.text,
        "metadata": json.dumps(metadata),
    }
    if isinstance(candidate.written, Completion):
        # The row's teacher is the one that wrote the instruction (last); tokens and cost include the rating.
        outputs = [candidate.rated, candidate.written] if candidate.rated else [candidate.written]
        row |= teacher_columns(outputs, config.temperature, config.max_tokens)
    return row


def estimate(config: Config) -> Estimate:
    """Per passage: one instruction written, then one rating of it (instructions are at most
    `max_instruction_chars`, longer ones are ledgered unrated)."""
    items = seed_passages(config, config.passage_chars)
    longest_instruction = "x" * config.max_instruction_chars
    total = Estimate()
    for passage in items:
        total += Estimate.asking(1, prompt_tokens(render_instruction(passage.text)), config.max_tokens)
        rating = prompt_tokens(RUBRIC.text, render_curation(longest_instruction, passage.text))
        total += Estimate.asking(1, rating, config.curation_max_tokens)
    return total.passing(len(items))


def curate(config: Config, items: list[Passage], ask: Ask) -> StageResult:
    """Write an instruction for every passage, rate the usable pairs, keep those rated at least `min_score`."""
    written = ask_each(ask, [render_instruction(p.text) for p in items], config.temperature, config.max_tokens)
    candidates = [Candidate(p, output) for p, output in zip(items, written, strict=True)]
    for candidate in candidates:
        if isinstance(candidate.written, TeacherFailure):
            candidate.reason = f"teacher failed: {candidate.written.reason}"
            continue
        candidate.instruction = parse_instruction(unmark(candidate.written.text))
        candidate.reason = screen(candidate.instruction, candidate.passage.text, config.max_instruction_chars)
    to_rate = [c for c in candidates if c.reason is None]
    prompts = [render_curation(c.instruction, c.passage.text) for c in to_rate]
    ratings = ask_each(ask, prompts, config.curation_temperature, config.curation_max_tokens, RUBRIC.text)
    for candidate, rating in zip(to_rate, ratings, strict=True):
        if isinstance(rating, TeacherFailure):
            candidate.reason = f"teacher failed while rating: {rating.reason}"
            continue
        candidate.rated = rating
        candidate.score = parse_score(rating.text)
        if candidate.score is None:
            candidate.reason = "self-curation score could not be parsed"
        elif candidate.score < config.min_score:
            candidate.reason = f"self-curation score below {config.min_score}"
    frame = rows_frame([_row(c, config) for c in candidates])
    reasons = pl.Series([c.reason for c in candidates], dtype=pl.String)
    scores = pl.Series([c.score for c in candidates], dtype=pl.Float64)
    return split(frame, "synthesis", reasons, scores, text_column="response")


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    documents = read_documents(config, log)
    items = passages(documents.frame, config.passage_chars)
    log(f"back-translation: {len(items)} passages from {documents.frame.height} documents "
        f"({len(documents.unreadable)} unreadable)")
    result = with_unreadable(curate(config, items, ask), documents)
    log(f"back-translation: {result.counts['kept']} pairs kept, {result.counts['dropped']} dropped")
    return result
