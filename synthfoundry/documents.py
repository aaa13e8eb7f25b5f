"""Documents for document-seeded recipes, from local files or any fsspec URL.

Sources: a .jsonl / .parquet file (one document per row, text in `text_field`), or a folder / glob of .txt, .md,
.html files. A document that cannot be read or parsed is reported with its path and skipped, never fatal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import polars as pl

from synthfoundry.inputs import SeedError
from synthfoundry.records import content_id
from synthfoundry.stages import LEDGER_SCHEMA

DOCUMENT_SCHEMA = {"id": pl.String, "source": pl.String, "text": pl.String}
_TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm")
_READABLE = _TEXT_SUFFIXES + (".jsonl", ".parquet")


class DocumentsError(SeedError):
    """No document at all could be read from a source: a run over it would only fill the ledger."""


@dataclass(frozen=True)
class Unreadable:
    source: str  # path, or path:line for a row of a JSONL file
    reason: str


@dataclass(frozen=True)
class Documents:
    frame: pl.DataFrame  # DOCUMENT_SCHEMA
    unreadable: list[Unreadable]

    def require_some(self, source: str) -> Documents:
        """These documents, or a `DocumentsError` naming the source and why each failed when none was readable."""
        if self.frame.height:
            return self
        reasons = "; ".join(f"{u.source}: {u.reason}" for u in self.unreadable[:3]) or "nothing there"
        more = f" (and {len(self.unreadable) - 3} more)" if len(self.unreadable) > 3 else ""
        raise DocumentsError(f"no readable document in {source} (0 documents readable): {reasons}{more}")

    def ledger(self, stage: str) -> pl.DataFrame:
        """The unreadable documents as ledger rows, so a recipe accounts for every input it was given."""
        return pl.DataFrame(
            {
                "id": [content_id("unreadable", u.source) for u in self.unreadable],
                "stage": [stage] * len(self.unreadable),
                "reason": [f"unreadable document: {u.reason}" for u in self.unreadable],
                "score": [None] * len(self.unreadable),
                "text": [u.source for u in self.unreadable],
            },
            schema=LEDGER_SCHEMA,
        )


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page: scripts, styles and markup dropped, block elements become line breaks."""

    _SKIP = {"script", "style", "noscript", "head", "nav", "footer"}
    _BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return normalise("".join(extractor.parts))


def normalise(text: str) -> str:
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _files(source: str) -> tuple[object, list[str]]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(source)
    if any(ch in path for ch in "*?["):
        return fs, sorted(fs.glob(path))
    if fs.isdir(path):
        return fs, sorted(p for p in fs.find(path) if p.lower().endswith(_READABLE))
    return fs, [path]


def _none_found(fs, source: str) -> str:
    """Why a source gave no file to read: the types read, and the ones a folder holds instead."""
    path = fs._strip_protocol(source)
    others = sorted({"." + p.rsplit(".", 1)[-1].lower() for p in fs.find(path) if "." in p.rsplit("/", 1)[-1]}
                    ) if fs.isdir(path) else []
    held = f"; it holds only {', '.join(others)} files (convert them to text first)" if others else ""
    return f"no documents found (the types read: {', '.join(_READABLE)}){held}"


def load_documents(source: str, text_field: str = "text", min_chars: int = 1, limit: int | None = None) -> Documents:
    """Read every document under `source`; ids are content hashes, so the same text is the same document."""
    rows: list[dict] = []
    unreadable: list[Unreadable] = []

    def add(where: str, text: object) -> None:
        if not isinstance(text, str):
            unreadable.append(Unreadable(where, f"field {text_field!r} is missing or not a string"))
        elif len(text := normalise(text)) < min_chars:
            unreadable.append(Unreadable(where, f"shorter than {min_chars} characters after cleaning"))
        else:
            rows.append({"id": content_id("document", text), "source": where, "text": text})

    try:
        fs, paths = _files(source)
    except Exception as error:  # noqa: BLE001 - any fsspec/back-end failure is reported, not raised
        return Documents(pl.DataFrame(schema=DOCUMENT_SCHEMA), [Unreadable(source, f"cannot list: {error}")])
    if not paths:
        unreadable.append(Unreadable(source, _none_found(fs, source)))
    for path in paths:
        if limit is not None and len(rows) >= limit:
            break
        try:
            if path.endswith(".parquet"):
                with fs.open(path, "rb") as handle:
                    frame = pl.read_parquet(handle)
                if text_field not in frame.columns:
                    unreadable.append(Unreadable(path, f"no column {text_field!r} (has {frame.columns})"))
                    continue
                for number, text in enumerate(frame[text_field].to_list()):
                    add(f"{path}#{number}", text)
                continue
            with fs.open(path, "rb") as handle:
                raw = handle.read().decode("utf-8")
        except Exception as error:  # noqa: BLE001 - one unreadable file must not sink the run
            unreadable.append(Unreadable(path, f"cannot read: {type(error).__name__}: {error}"))
            continue
        if path.endswith(".jsonl"):
            for number, line in enumerate(raw.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as error:
                    unreadable.append(Unreadable(f"{path}:{number}", f"invalid JSON: {error.msg}"))
                    continue
                add(f"{path}:{number}", item.get(text_field) if isinstance(item, dict) else None)
        elif path.lower().endswith((".html", ".htm")):
            add(path, html_to_text(raw))
        else:
            add(path, raw)
    frame = pl.DataFrame(rows[:limit] if limit is not None else rows, schema=DOCUMENT_SCHEMA)
    return Documents(frame.unique("id", keep="first", maintain_order=True), unreadable)
