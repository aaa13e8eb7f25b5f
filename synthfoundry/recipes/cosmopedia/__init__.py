"""Cosmopedia (Hugging Face, 2024): pre-training text from seed × audience × format prompts.

A seed is a topic, a sub-unit of a curated outline, or a document extract. Each prompt asks for one format
(textbook unit, blog post, story, wikiHow-style how-to) written for one audience, with that audience's style
instruction from the lecture; the teacher writes the text in distillation. Diversity comes from the seeds and the
grid, not from the temperature, so prompts walk the audience × format grid evenly and the coverage is reported.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from synthfoundry.documents import load_documents
from synthfoundry.inputs import Place, SeedError, load_yaml, read_text
from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.document_seeds import as_content
from synthfoundry.recipes.templates import Template, combined_hash, load_template
from synthfoundry.records import content_id, rows_frame
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, empty_ledger

NAME = "cosmopedia"
VERSION = "3"  # 3: documents datamarked (spotlighting); 2: document extracts between delimiters, marked as content
KIND = "pretrain"
DISTILL = True  # the prompt is the instruction; the teacher writes the text
ANSWERS = False  # no ground truth a program can check
EMBED_COLUMN = "response"
FILTERS = ({"name": "injection"}, {"name": "diversity"})  # default filter steps, in order

Format = Literal["textbook_unit", "blog_post", "story", "wikihow"]
FORMATS: tuple[Format, ...] = ("textbook_unit", "blog_post", "story", "wikihow")
TEMPLATES: dict[str, Template] = {name: load_template(__package__, name) for name in FORMATS}
EXTRACT = load_template(__package__, "extract")

# The lecture's audience style instructions (Cosmopedia's prompts), keyed by how the prompt names the audience.
AUDIENCES = {
    "young children": "Remember this text is intended for young children, so use very simple, everyday words and "
    "phrases that a 10-year-old would easily understand. Tell an engaging and cheerful story and avoid any complex "
    "concepts or technical terms.",
    "high school students": "Use language and examples that would relate with teenage students balancing "
    "educational rigor with accessibility. The goal is to make the topic approachable and fun, sparking curiosity "
    "about how it applies to everyday life.",
    "college students": "Write for college students who have some foundational knowledge but are not experts in "
    "the field: the material should be detailed and thought-provoking, with technical terms defined when they "
    "first appear.",
    "researchers": "The content should aim to engage a highly knowledgeable audience with very deep expertise in "
    "the topic. Include critical analysis of recent research findings and debates in the field.",
}


class Config(BaseModel):
    """Cosmopedia-style pre-training text: seeds (topics, outline units, document extracts) × audiences × formats."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["cosmopedia"] = "cosmopedia"
    topics: list[str] = Field(default=[], description="topics, one seed each")
    topics_file: Place | None = Field(default=None, description="text file with one topic per line")
    outline: dict[str, list[str]] = Field(default={}, description="course -> sub-units; each sub-unit is a seed")
    outline_file: Place | None = Field(default=None, description="YAML/JSON mapping course -> list of sub-units")
    documents: str | None = Field(
        default=None, description="documents whose extracts are seeds: a .jsonl/.parquet file, folder, glob or URL"
    )
    text_field: str = Field(default="text", description="document text field in JSONL/Parquet")
    min_chars: int = Field(default=200, ge=1, description="skip documents shorter than this (to the ledger)")
    max_documents: int | None = Field(default=100, ge=1, description="read at most this many documents")
    extract_chars: int = Field(default=1000, ge=50, description="an extract is the document's first N characters")
    audiences: dict[str, str] = Field(
        default=AUDIENCES, min_length=1, description="audience (as named in the prompt) -> its style instruction"
    )
    formats: list[Format] = Field(default=list(FORMATS), min_length=1, description="formats to write")
    per_seed: int = Field(
        default=1, ge=1, description="prompts per seed, each in a different audience × format cell (at most the grid)"
    )


@dataclass(frozen=True)
class Seed:
    id: str
    subject: str  # how the prompt names what to write about
    context: str  # text shown before the task (a document extract), or ""
    metadata: dict


def default_outline_path() -> Path:
    return Path(str(resources.files("synthfoundry") / "seeds" / "cosmopedia" / "outline.yaml"))


def load_outline(path: Place | Path) -> dict[str, list[str]]:
    outline = load_yaml(path, "the outline", SeedError)
    if not isinstance(outline, dict) or not all(
        isinstance(units, list) and all(isinstance(u, str) for u in units) for units in outline.values()
    ):
        raise SeedError(f"{path}: expected a mapping of course -> list of sub-unit titles")
    return {str(course): units for course, units in outline.items()}


def load_topics(path: Place | Path) -> list[str]:
    topics = [line.strip() for line in read_text(path, "topics", SeedError).splitlines() if line.strip()]
    if not topics:
        raise SeedError(f"{path}: no topics (one per line); an empty file is refused rather than guessed at")
    return topics


def extract(text: str, limit: int) -> str:
    """The document's opening, cut at a word boundary."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "..."


def topic_seed(topic: str) -> Seed:
    return Seed(f"topic:{topic}", f'"{topic}"', "", {"seed_kind": "topic", "topic": topic})


def outline_seed(course: str, unit: str) -> Seed:
    return Seed(
        f"outline:{course}/{unit}",
        f'"{unit}", a unit of a course on "{course}"',
        "",
        {"seed_kind": "outline", "topic": course, "unit": unit},
    )


def extract_seed(document_id: str, source: str, text: str, limit: int) -> Seed:
    return Seed(
        document_id,
        "the topic of the extract above",
        EXTRACT.render(extract=as_content(extract(text, limit))),
        {"seed_kind": "extract", "source": source},
    )


def load_seeds(config: Config) -> tuple[list[Seed], pl.DataFrame]:
    """Every configured seed (the shipped outline when none is), and the ledger of unreadable documents."""
    topics = config.topics + (load_topics(config.topics_file) if config.topics_file else [])
    outline = {**(load_outline(config.outline_file) if config.outline_file else {}), **config.outline}
    if not (topics or outline or config.documents):
        outline = load_outline(default_outline_path())
    seeds = [topic_seed(t) for t in topics]
    seeds += [outline_seed(course, unit) for course, units in outline.items() for unit in units]
    ledger = empty_ledger()
    if config.documents:
        documents = load_documents(config.documents, config.text_field, config.min_chars, config.max_documents)
        seeds += [
            extract_seed(d["id"], d["source"], d["text"], config.extract_chars)
            for d in documents.frame.iter_rows(named=True)
        ]
        ledger = documents.ledger("synthesis")
    return list({seed.id: seed for seed in seeds}.values()), ledger


def render_prompt(seed: Seed, audience: str, style: str, format_: str) -> str:
    return TEMPLATES[format_].render(context=seed.context, subject=seed.subject, audience=audience, style=style)


def assign_cells(seeds: int, cells: int, per_seed: int) -> list[tuple[int, int]]:
    """(seed, cell) pairs: every seed gets `per_seed` distinct cells and the cells are used as evenly as possible.

    Prompt k takes seed k mod S and cell (k + k // lcm(S, C)) mod C: within each run of lcm(S, C) prompts the pairs
    are distinct, and the shift moves each later run onto pairs not used yet, so the first S*C prompts are the
    whole grid and any prefix of them spreads over the cells evenly.
    """
    if not seeds:
        return []
    period = math.lcm(seeds, cells)
    return [(k % seeds, (k + k // period) % cells) for k in range(seeds * min(per_seed, cells))]


def coverage_table(counts: Counter[tuple[str, str]], audiences: list[str], formats: list[str]) -> str:
    """Prompts per (audience, format) cell, as a Markdown table for the run log."""
    lines = ["| audience | " + " | ".join(formats) + " |", "|---|" + "---:|" * len(formats)]
    lines += [f"| {a} | " + " | ".join(str(counts[(a, f)]) for f in formats) + " |" for a in audiences]
    return "\n".join(lines)


def estimate(config: Config) -> Estimate:
    """Nothing is asked during synthesis: one prompt per seed and grid cell, for distillation to answer."""
    seeds, unreadable = load_seeds(config)
    if not seeds:
        reasons = "; ".join(unreadable["reason"].head(3).to_list()) or "nothing there"
        raise SeedError(f"no seeds: the documents {config.documents} gave no readable document ({reasons})")
    audience = max(config.audiences, key=lambda name: len(name) + len(config.audiences[name]))
    longest = max(
        prompt_tokens(render_prompt(seed, audience, config.audiences[audience], format_))
        for seed in seeds for format_ in dict.fromkeys(config.formats)
    )
    cells = len(config.audiences) * len(set(config.formats))
    return Estimate(rows=len(seeds) * min(config.per_seed, cells), row_tokens=longest)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    """Build the prompts; no teacher call is needed until distillation."""
    seeds, unreadable = load_seeds(config)
    rng.shuffle(seeds)
    audiences, formats = list(config.audiences), list(dict.fromkeys(config.formats))
    cells = [(audience, format_) for audience in audiences for format_ in formats]
    rng.shuffle(cells)
    pairs = assign_cells(len(seeds), len(cells), config.per_seed)
    counts = Counter(cells[cell] for _, cell in pairs)
    share = len(counts) / len(cells)
    rows = []
    for seed_index, cell in pairs:
        seed, (audience, format_) = seeds[seed_index], cells[cell]
        instruction = render_prompt(seed, audience, config.audiences[audience], format_)
        template_hash = combined_hash(TEMPLATES[format_], EXTRACT) if seed.context else TEMPLATES[format_].hash
        rows.append({
            "id": content_id(NAME, VERSION, template_hash, instruction),
            "recipe": NAME,
            "recipe_version": VERSION,
            "template_hash": template_hash,
            "seed_ids": [seed.id],
            "instruction": instruction,
            "input": "",
            "metadata": json.dumps(
                {**seed.metadata, "audience": audience, "format": format_, "grid_coverage": round(share, 4)}
            ),
        })
    log(f"cosmopedia: {len(pairs)} prompts from {len(seeds)} seeds; {len(counts)}/{len(cells)} audience × format "
        f"cells covered ({share:.0%}); {unreadable.height} unreadable documents\n"
        + coverage_table(counts, audiences, formats))
    return StageResult("synthesis", rows_frame(rows), unreadable)
