"""Seeds for document-seeded recipes (back-translation, MAmmoTH2, WRAP): where the documents come from, and passages.

Long documents are cut into paragraph-aligned passages so each prompt stays within a model's context and each
generated row is about one coherent piece of text (WRAP rephrases chunks of about 300 tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from synthfoundry.documents import Documents, load_documents
from synthfoundry.recipes.base import Ask, Log
from synthfoundry.records import content_id
from synthfoundry.stages import StageResult
from synthfoundry.teachers.base import ChatRequest, Completion, TeacherFailure

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class DocumentSeeds(BaseModel):
    """Config fields every document-seeded recipe shares; a recipe's Config subclasses it and adds its `name`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    documents: str | None = Field(
        default=None,
        description="file, folder, glob or fsspec URL of documents (.jsonl, .parquet, .txt, .md, .html); "
        "default: the sample corpus shipped with the package",
    )
    text_field: str = Field(default="text", description="the text column of .jsonl / .parquet documents")
    min_chars: int = Field(default=50, ge=1, description="documents shorter than this after cleaning are ledgered")
    limit: int | None = Field(default=None, ge=1, description="read at most this many documents")


def sample_documents_path() -> str:
    return str(resources.files("synthfoundry") / "seeds" / "documents")


def read_documents(config: DocumentSeeds, log: Log = lambda _message: None) -> Documents:
    """The configured documents; each one that cannot be read is logged with its path (and ledgered by the recipe)."""
    source = config.documents or sample_documents_path()
    documents = load_documents(source, config.text_field, config.min_chars, config.limit)
    for unreadable in documents.unreadable:
        log(f"skipped unreadable document {unreadable.source}: {unreadable.reason}")
    return documents


MARK = "\u02c6"  # ˆ, the datamark joining a document's words (the one Hines et al. 2024 used)
_SPACES = re.compile(r"[ \t]")


def as_content(text: str, datamark: bool = True) -> str:
    """A document's text as the templates show it to the teacher: data, marked so a model can tell it from the
    instructions around it (spotlighting by datamarking, Hines et al. 2024: the words are joined by `MARK`, which
    cut attacks' success from about 50 % to under 3 %), between <document> delimiters it cannot close early.
    `datamark=False` for prompts that ask to copy the text out (MAmmoTH2's extraction: small models copy marked
    text badly); the `injection` step screens those rows all the same."""
    fenced = text.replace("</document>", "</ document>").replace("<document>", "< document>")
    return _SPACES.sub(MARK, fenced.replace(MARK, "^")) if datamark else fenced


def unmark(text: str) -> str:
    """A teacher's answer without the datamark, should it have copied some."""
    return text.replace(MARK, " ")


def seed_passages(config: DocumentSeeds, max_chars: int) -> list[Passage]:
    """The passages a run will ask about, for its forecast; a source with no readable document is an error."""
    documents = read_documents(config).require_some(config.documents or sample_documents_path())
    return passages(documents.frame, max_chars)


def split_passages(text: str, max_chars: int) -> list[str]:
    """Whole paragraphs packed into passages of at most `max_chars`.

    A paragraph longer than that is cut at sentence ends, and a sentence longer than that is cut hard.
    """
    pieces: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = paragraph.strip()
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        sentences = _SENTENCE_END.split(paragraph)
        chunks = [s[i : i + max_chars] for s in sentences for i in range(0, len(s), max_chars)]
        pieces.extend(_pack(chunks, max_chars, " "))
    return _pack([p for p in pieces if p], max_chars, "\n\n")


def _pack(pieces: list[str], max_chars: int, separator: str) -> list[str]:
    packed: list[str] = []
    for piece in pieces:
        if packed and len(packed[-1]) + len(separator) + len(piece) <= max_chars:
            packed[-1] += separator + piece
        else:
            packed.append(piece)
    return packed


@dataclass(frozen=True)
class Passage:
    document_id: str
    source: str
    index: int  # position of the passage in its document
    text: str

    def metadata(self) -> dict:
        return {"document_id": self.document_id, "source": self.source, "passage": self.index}


def passages(documents: pl.DataFrame, max_chars: int) -> list[Passage]:
    return [
        Passage(document_id, source, index, passage)
        for document_id, source, text in documents.select("id", "source", "text").iter_rows()
        for index, passage in enumerate(split_passages(text, max_chars))
    ]


def ask_each(
    ask: Ask, prompts: list[str], temperature: float, max_tokens: int, system: str | None = None
) -> list[Completion | TeacherFailure]:
    """One user turn per prompt (after `system`, if given), sent as one batch.

    Each request is seeded by its content: the same passage is the same request, so a backfill over more documents
    re-uses the cached answers for the ones already done.
    """
    preamble = ({"role": "system", "content": system},) if system else ()
    requests = [
        ChatRequest(
            messages=(*preamble, {"role": "user", "content": prompt}),
            temperature=temperature,
            max_tokens=max_tokens,
            seed=int(content_id(prompt)[:8], 16),
        )
        for prompt in prompts
    ]
    return ask(requests) if requests else []


def why_unusable(output: Completion | TeacherFailure, text: str, min_chars: int, drop_truncated: bool) -> str | None:
    """Why a generated text (already cleaned from `output`) cannot be a row's response, or None."""
    if isinstance(output, TeacherFailure):
        return f"teacher failed: {output.reason}"
    if not text:
        return "empty response"
    if len(text) < min_chars:
        return f"response shorter than {min_chars} characters"
    if drop_truncated and output.finish_reason == "length":
        return "response truncated at max_tokens"
    return None


def with_unreadable(result: StageResult, documents: Documents) -> StageResult:
    """The stage's result plus the documents that could not be read, so every input is accounted for."""
    return StageResult(result.stage, result.kept, pl.concat([result.dropped, documents.ledger(result.stage)]))
