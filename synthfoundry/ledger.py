"""The rejection ledger read back: reasons normalised and grouped here alone, for the run's tables and final
message, the manifest, the card and `synthfoundry ledger`.

A reason's *kind* is the reason with its standalone numbers masked, so "cosine 0.953 > 0.9 to a published row" and
"cosine 0.97 > 0.9 ..." are one kind while "gsm8k" stays "gsm8k". A reason's *source* is the text before its first
": " (decontamination names the benchmark there: "gsm8k: item 12 ...").
"""

from __future__ import annotations

import polars as pl

_NUMBER = r"\b\d+(?:\.\d+)?\b"


def kinds(ledger: pl.DataFrame, examples: int = 0) -> pl.DataFrame:
    """Rows per stage and kind of reason, most first (ties by stage, kind); with `examples`, up to that many real
    (reason, text) pairs of each kind."""
    masked = ledger.with_columns(pl.col("reason").fill_null("").str.replace_all(_NUMBER, "#").alias("kind"))
    aggregates = [pl.len().alias("rows")]
    if examples:
        aggregates.append(pl.struct("reason", "text").head(examples).alias("examples"))
    grouped = masked.group_by("stage", "kind", maintain_order=True).agg(aggregates)
    return grouped.sort(["rows", "stage", "kind"], descending=[True, False, False])


def by_stage(ledger: pl.DataFrame, examples: int = 1, top: int = 8) -> list[dict]:
    """`kinds` stage by stage, each stage's `top` kinds and the rest summed as one "(N other reasons)" entry."""
    if ledger.is_empty():
        return []
    out = []
    grouped = kinds(ledger, max(examples, 1)).sort(["stage", "rows"], descending=[False, True], maintain_order=True)
    for (stage,), group in grouped.group_by("stage", maintain_order=True):
        out.extend(group.head(top).to_dicts())
        rest = group.slice(top)
        if rest.height:
            out.append({"stage": stage, "kind": f"({rest.height} other reasons)", "rows": int(rest["rows"].sum()),
                        "examples": rest["examples"][0].to_list()})
    return out


def top_reasons(ledger: pl.DataFrame, limit: int = 3) -> str:
    """The most common kinds of reason as one line, for a run's final message."""
    top = kinds(ledger).head(limit).iter_rows()
    return "; ".join(f"{stage}: {kind} ({rows})" for stage, kind, rows in top) or "nothing was dropped"


def by_source(ledger: pl.DataFrame, top: int | None = 10) -> dict[str, int]:
    """Ledger rows per source of reason, most first (reasons without one are not counted); the `top` (None: all)."""
    sources = ledger["reason"].str.extract(r"^([^:]+): ", 1).drop_nulls().value_counts(sort=True)
    return dict((sources if top is None else sources.head(top)).iter_rows())
