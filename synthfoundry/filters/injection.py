"""Prompt injection: rows whose text carries instructions aimed at a model ("ignore the previous instructions",
"system prompt", chat role tags) are dropped with the marker named, never silently published.

Document-seeded recipes put untrusted web text into prompts; even with the document fenced off as content, a
teacher may obey it, and a row that quotes it would teach a student to. Input columns: `instruction`, `input`,
`response` (whichever exist).
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.strict import Strict

NAME = "injection"
COMPARES_ROWS = False

# Marker name -> case-insensitive pattern (Rust regex syntax, as polars runs it).
MARKERS = {
    "ignore-instructions": r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
    r"(?:(?:previous|prior|above|earlier|preceding|original)\s+(?:instructions?|prompts?|directions|rules)"
    r"|(?:instructions?|prompts?|directions|rules)\s+(?:above|before|so\s+far))",
    "system-prompt": r"\bsystem\s+prompt\b",
    "role-tag": r"<\|?(?:im_start|im_end|system|endoftext)\|?>|\[/?INST\]|<</?SYS>>|(?m:^\s*#{0,3}\s*(?:system|assistant)\s*:)",
    "new-instructions": r"\b(?:new|updated|real)\s+instructions\s*:",
    "you-are-now": r"\byou\s+are\s+now\s+(?:a|an|in|no\s+longer)\b",
}


class Config(Strict):
    """Drop rows carrying prompt-injection markers; the ledger names the marker and quotes it."""

    name: Literal["injection"] = "injection"
    columns: tuple[str, ...] = Field(
        default=("instruction", "input", "response"), min_length=1, description="columns searched for markers"
    )
    extra_markers: dict[str, str] = Field(
        default_factory=dict, description="more markers: name -> case-insensitive regular expression"
    )


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    columns = [c for c in config.columns if c in frame.columns]
    text = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in columns], separator="\n")
    found = frame.select(
        pl.coalesce([
            pl.concat_str(pl.lit(f"prompt injection marker {name}: '"), text.str.extract(f"(?i)({pattern})", 1)
                          .str.slice(0, 60), pl.lit("'"))
            for name, pattern in {**MARKERS, **config.extra_markers}.items()
        ]).alias("reason")
    )
    return Verdicts(found["reason"].to_list())
