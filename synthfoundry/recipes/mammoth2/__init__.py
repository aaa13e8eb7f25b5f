"""Q/A extraction and refinement from web documents (MAmmoTH2, Yue et al. 2024).

The web already holds many naturally written question/answer pairs (forums, FAQs, worksheets), buried in clutter
and with terse answers. Three steps, as in the paper: recall instruction-like documents (the paper trains a
fastText classifier; here a cheap, configurable pattern count), extract Q/A pairs with the model, then have the
model refine each answer (add the missing steps). Documents that are not recalled or hold no Q/A go to the ledger.
A pair's tokens and cost are its refinement's; extraction (one request per passage, shared by its pairs) is counted
in the run's cost summary.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
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
    sample_documents_path,
    unmark,
    why_unusable,
    with_unreadable,
)
from synthfoundry.recipes.templates import combined_hash, load_template
from synthfoundry.records import content_id, rows_frame
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, split
from synthfoundry.teachers.base import Completion, TeacherFailure

NAME = "mammoth2"
VERSION = "2"  # 2: documents between delimiters, marked as content; pairs per passage capped
KIND = "sft"
DISTILL = False  # the refined answer is the response
ANSWERS = False  # no ground truth a program can check
EMBED_COLUMN = "instruction"
FILTERS = ({"name": "injection"}, {"name": "decontamination"}, {"name": "diversity"})  # default filter steps, in order
EXTRACT = load_template(__package__, "extract")
REFINE = load_template(__package__, "refine")
TEMPLATE_HASH = combined_hash(EXTRACT, REFINE)

# Compiled with IGNORECASE | MULTILINE; a document's score is the total number of matches of all patterns.
DEFAULT_RECALL_PATTERNS = (
    r"\?(?=\s|$)",  # a sentence that asks something
    r"^\W*(?:q\d*|question|problem|exercise)\s*\d*\s*[:.]",  # a labelled question
    r"^\W*(?:a|answer|solution|explanation)\s*[:.]",  # a labelled answer
)


class Config(DocumentSeeds):
    """MAmmoTH2 (Yue et al. 2024): recall Q/A-like documents, extract Q/A pairs, refine the answers."""

    name: Literal["mammoth2"] = "mammoth2"
    recall_patterns: tuple[str, ...] = Field(
        default=DEFAULT_RECALL_PATTERNS,
        description="regular expressions (case-insensitive, multi-line) whose matches mark instruction-like text",
    )
    recall_min_matches: int = Field(
        default=2, ge=0, description="documents with fewer pattern matches in all are ledgered (0 recalls all)"
    )
    passage_chars: int = Field(
        default=3000, ge=200, description="longer documents are split into paragraph-aligned passages for extraction"
    )
    temperature: float = Field(default=0.2, ge=0, le=2, description="sampling temperature for extraction")
    max_tokens: int = Field(default=512, ge=16, description="tokens for the Q/A pairs extracted from one passage")
    refine_temperature: float = Field(default=0.7, ge=0, le=2, description="sampling temperature for refinement")
    refine_max_tokens: int = Field(default=512, ge=16, description="tokens per refined answer")
    drop_truncated: bool = Field(default=True, description="ledger refined answers cut off at refine_max_tokens")
    max_pairs_per_passage: int = Field(
        default=8, ge=1, description="refine at most this many of the Q/A pairs extracted from one passage, so the "
        "run's requests are bounded before it starts"
    )

    @field_validator("recall_patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {error}") from None
        return patterns


@dataclass(frozen=True)
class Pair:
    question: str
    answer: str


# A labelled line: optional bullet or number, the label (and its number), a separator (or nothing after a heading).
_PART = re.compile(
    r"^[\s*#>_-]*(?:\d+[.)]\s*)?(q|question|problem|exercise|a|answer|solution)(?:\s*\d+)?[\s*_]*"
    r"(?:[:.)]|$)[\s*_]*(.*)$",
    re.IGNORECASE,
)
_QUESTION_LABELS = {"q", "question", "problem", "exercise"}
_ANSWER_LABEL = re.compile(r"^\W*(?:(?:improved|refined|final|complete)\s+)?(?:answer|a)\s*:\s*", re.IGNORECASE)


def recall_matches(text: str, patterns: tuple[str, ...]) -> int:
    return sum(len(re.findall(p, text, re.IGNORECASE | re.MULTILINE)) for p in patterns)


def parse_pairs(text: str) -> list[Pair]:
    """Q/A pairs from "Q: ... A: ..." blocks (also Question/Answer, Problem/Solution, markdown-bold labels).

    Unlabelled lines continue the current question or answer; a second answer to one question and answers with
    no question are ignored; pairs missing either side are dropped.
    """
    pairs: list[Pair] = []
    question: list[str] | None = None
    answer: list[str] | None = None
    current: list[str] | None = None

    def flush() -> None:
        if question is not None and answer is not None:
            q, a = "\n".join(question).strip(), "\n".join(answer).strip()
            if q and a and q.upper() != "NONE":
                pairs.append(Pair(q, a))

    for line in text.splitlines():
        part = _PART.match(line)
        if part and part.group(1).lower() in _QUESTION_LABELS:
            flush()
            question, answer = [part.group(2).strip()], None
            current = question
        elif part:
            if question is not None and answer is None:
                answer = [part.group(2).strip()]
                current = answer
            else:
                current = None
        elif current is not None:
            current.append(line.strip())
    flush()
    unique: dict[str, Pair] = {}
    for pair in pairs:
        unique.setdefault(pair.question, pair)
    return list(unique.values())


def clean_refined(text: str) -> str:
    return _ANSWER_LABEL.sub("", text.strip(), count=1).strip()


def render_extract(document: str) -> str:
    return EXTRACT.render(document=as_content(document, datamark=False))


def render_refine(pair: Pair) -> str:
    return REFINE.render(question=pair.question, answer=pair.answer)


def _candidate(row_id: str, instruction: str, metadata: dict, document_id: str) -> dict:
    return {
        "id": row_id,
        "recipe": NAME,
        "recipe_version": VERSION,
        "template_hash": TEMPLATE_HASH,
        "seed_ids": [document_id],
        "instruction": instruction,
        "input": "",
        "metadata": json.dumps(metadata),
    }


class _Rows:
    """Candidate rows with their ledger reason and recall score, gathered across the three steps."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.reasons: list[str | None] = []
        self.scores: list[float] = []

    def add(self, row: dict, reason: str | None, score: int) -> None:
        self.rows.append(row)
        self.reasons.append(reason)
        self.scores.append(float(score))

    def result(self) -> StageResult:
        frame = rows_frame(self.rows)
        reasons = pl.Series(self.reasons, dtype=pl.String)
        return split(frame, "synthesis", reasons, pl.Series(self.scores, dtype=pl.Float64))


def estimate(config: Config) -> Estimate:
    """One extraction per passage of a recalled document, then a refinement of each pair it yields (at most
    `max_pairs_per_passage`, each no longer than the extraction's answer)."""
    documents = read_documents(config).require_some(config.documents or sample_documents_path())
    recalled = documents.frame.filter(
        pl.Series([recall_matches(text, config.recall_patterns) >= config.recall_min_matches
                   for text in documents.frame["text"]], dtype=pl.Boolean)
    )
    items = passages(recalled, config.passage_chars)
    extracting = sum(
        (Estimate.asking(1, prompt_tokens(render_extract(p.text)), config.max_tokens) for p in items), Estimate()
    )
    refine_tokens = prompt_tokens(render_refine(Pair("", ""))) + config.max_tokens
    refining = Estimate.asking(len(items) * config.max_pairs_per_passage, refine_tokens, config.refine_max_tokens)
    return (extracting + refining).passing(refining.requests)


def extract_and_refine(config: Config, documents: pl.DataFrame, ask: Ask) -> StageResult:
    """Recall, extract and refine; every document ends up in a kept pair or in the ledger."""
    out = _Rows()
    recalled = []
    matches: dict[str, int] = {}
    for document_id, source, text in documents.select("id", "source", "text").iter_rows():
        matches[document_id] = recall_matches(text, config.recall_patterns)
        if matches[document_id] >= config.recall_min_matches:
            recalled.append(document_id)
            continue
        reason = f"not instruction-like: fewer than {config.recall_min_matches} recall-pattern matches"
        metadata = {"document_id": document_id, "source": source}
        out.add(_candidate(document_id, text, metadata, document_id), reason, matches[document_id])

    items: list[Passage] = passages(documents.filter(pl.col("id").is_in(recalled)), config.passage_chars)
    extractions = ask_each(ask, [render_extract(p.text) for p in items], config.temperature, config.max_tokens)
    found: list[tuple[Passage, Pair]] = []
    for passage, output in zip(items, extractions, strict=True):
        extracted = [] if isinstance(output, TeacherFailure) else parse_pairs(unmark(output.text))
        pairs = extracted[: config.max_pairs_per_passage]
        if not pairs:
            reason = f"teacher failed: {output.reason}" if isinstance(output, TeacherFailure) else "no Q/A found"
            row_id = content_id(NAME, VERSION, TEMPLATE_HASH, passage.document_id, passage.index)
            out.add(_candidate(row_id, passage.text, passage.metadata(), passage.document_id), reason,
                    matches[passage.document_id])
        found.extend((passage, pair) for pair in pairs)

    prompts = [render_refine(pair) for _, pair in found]
    refinements = ask_each(ask, prompts, config.refine_temperature, config.refine_max_tokens)
    for (passage, pair), output in zip(found, refinements, strict=True):
        lineage = (passage.document_id, passage.index)
        row_id = content_id(NAME, VERSION, TEMPLATE_HASH, pair.question, pair.answer, *lineage)
        metadata = passage.metadata() | {"extracted_answer": pair.answer}
        row = _candidate(row_id, pair.question, metadata, passage.document_id)
        answer = ""
        if isinstance(output, Completion):
            answer = clean_refined(output.text)
            row |= {"response": answer or None} | teacher_columns([output], config.refine_temperature,
                                                                  config.refine_max_tokens)
        out.add(row, why_unusable(output, answer, 1, config.drop_truncated), matches[passage.document_id])
    return out.result()


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    documents = read_documents(config, log)
    result = with_unreadable(extract_and_refine(config, documents.frame, ask), documents)
    log(f"mammoth2: {documents.frame.height} documents ({len(documents.unreadable)} unreadable) -> "
        f"{result.counts['kept']} refined Q/A pairs, {result.counts['dropped']} ledgered")
    return result
