"""The evaluation report of a published version (the lecture's intrinsic evaluation): its figures and plots.

`evaluate` turns a version's rows, manifest and ledger into figures (a JSON-able dict, kept beside the manifest as
`evaluation.json` so the next version can show what changed); `plots` draws them as PNGs; card.py renders them as
the dataset card. Only the last section reads a store.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import polars as pl

from synthfoundry import ledger as ledger_reasons
from synthfoundry.filters.clusters import cluster_coverage
from synthfoundry.records import decided

SAMPLE = 1000  # rows (and vectors) sampled for diversity: distinct-n depends on corpus size, so it is fixed
TOP_REASONS = 8  # ledger reasons shown per stage; the rest are summed
BINS = 20
JUDGE_STAGE = "quality_judge"
DECONTAMINATION_STAGE = "decontamination"
RATES = {"pass_rate": "policy pass rate", "agreement": "majority agreement"}  # per-row shares filters record
_WORD = re.compile(r"\w+")


# --- figures -----------------------------------------------------------------------------------------------------


def evaluate(
    rows: pl.DataFrame,
    manifest: dict,
    ledger: pl.DataFrame,
    vectors: np.ndarray | None = None,
    previous: dict | None = None,
    seed: int = 0,
) -> dict:
    """Every figure of the card; `vectors` is a sample of the version's embeddings, `previous` the parent's
    evaluation (both optional)."""
    sample = rows.sample(min(rows.height, SAMPLE), seed=seed) if rows.height else rows
    figures = {
        "dataset": manifest.get("dataset"),
        "version": manifest.get("version"),
        "parent": manifest.get("parent"),
        "created_at": manifest.get("created_at"),
        "rows": manifest.get("rows", {"total": rows.height}),
        "target": manifest.get("target"),
        "stages": _stages(manifest.get("stages", {})),
        "rejections": ledger_reasons.by_stage(ledger, top=TOP_REASONS),
        "cost": _cost(manifest),
        "contract": {k: v for k, v in (manifest.get("contract") or {}).items() if k != "failures"},
        "diversity": {
            "sample": sample.height,
            "mean_cosine_distance": mean_cosine_distance(vectors),
            **{f"distinct_{n}": distinct_n(_texts(sample), n) for n in (1, 2)},
            "clusters": cluster_coverage(rows),
        },
        "scores": decision_scores(rows),
        "rates": {name: d for name in RATES if name in rows.columns and (d := _distribution(rows[name]))},
        "judge": judge_distribution(rows, ledger),
        "contamination": contamination_hits(ledger),
        "sandbox": manifest.get("sandbox"),
        "lengths": {
            name: _distribution(series)
            for name, series in (
                ("instruction_chars", rows["instruction"].str.len_chars()),
                ("response_chars", rows["response"].str.len_chars()),
                ("completion_tokens", rows["completion_tokens"]),
            )
        },
        "recipes": _counts(rows, "recipe", "recipe_version"),
        "teachers": _counts(rows, "teacher_provider", "teacher_model"),
        "lineage": {
            "run_id": manifest.get("run_id"),
            "code_version": manifest.get("code_version"),
            "seed": manifest.get("seed"),
            "teacher": manifest.get("teacher"),
            "rollback_of": manifest.get("rollback_of"),
            "templates": _counts(rows, "recipe", "template_hash"),
            "config": manifest.get("config"),
        },
    }
    figures["change"] = change(previous, figures) if previous else None
    return figures


def _stages(stages: dict) -> list[dict]:
    return [
        {"stage": name, **counts, "kept_share": round(counts["kept"] / counts["in"], 4) if counts["in"] else None}
        for name, counts in stages.items()
    ]


def _cost(manifest: dict) -> dict:
    cost = manifest.get("cost") or {}
    return {
        "spent_usd": cost.get("spent_usd"),
        "cached_usd": cost.get("cached_usd"),
        "forecast_usd": cost.get("forecast_usd"),
        "budget_usd": cost.get("budget_usd"),
        "kept_rows_usd": cost.get("kept_rows_usd"),
        "requests": cost.get("requests", {}),
        "tokens": cost.get("tokens") or manifest.get("tokens", {}),
        "per_kept_row_usd": _per_row(cost.get("spent_usd"), (manifest.get("rows") or {}).get("added")),
    }


def _per_row(usd: float | None, rows: int | None) -> float | None:
    return round(usd / rows, 8) if usd is not None and rows else None


def _texts(frame: pl.DataFrame) -> list[str]:
    """The text a trainer learns from: the response, or the instruction where there is none (RLVR prompts)."""
    return frame.select(pl.coalesce("response", "instruction").fill_null("")).to_series().to_list()


def distinct_n(texts: list[str], n: int) -> float | None:
    """Distinct n-grams / all n-grams over the texts (lower-cased words), as in Li et al. 2016."""
    grams = Counter()
    for text in texts:
        words = _WORD.findall(text.lower())
        grams.update(zip(*(words[i:] for i in range(n))))
    total = sum(grams.values())
    return round(len(grams) / total, 4) if total else None


def mean_cosine_distance(vectors: np.ndarray | None) -> float | None:
    """1 - the mean cosine similarity over all pairs of distinct rows of the sample."""
    if vectors is None or len(vectors) < 2:
        return None
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    total = unit.sum(axis=0)
    pairs = len(unit) * (len(unit) - 1)
    mean_similarity = (float(total @ total) - len(unit)) / pairs  # sum over i != j of u_i . u_j, without the matrix
    return round(1.0 - mean_similarity, 4)


def decision_scores(rows: pl.DataFrame) -> dict:
    """Each filter's scores on the kept rows, from their `decisions` trail."""
    scored = decided(rows).drop_nulls()
    return {stage: _distribution(group["score"]) for (stage,), group in scored.group_by("stage", maintain_order=True)}


def score_counts(kept: np.ndarray, dropped: np.ndarray, buckets: int = 10) -> dict[str, dict[str, int]]:
    """How many kept and dropped rows had each score: by value when the scores are whole numbers (a judge's 1-6),
    else in `buckets` equal-width ranges shared by both sides (a cosine)."""
    both = np.concatenate([kept, dropped])
    if np.all(both == np.round(both)) and len(np.unique(both)) <= 2 * buckets:
        def count(side):
            return {f"{v:g}": int(n) for v, n in zip(*np.unique(side, return_counts=True))}
    else:
        edges = np.histogram_bin_edges(both, bins=buckets)
        labels = [f"{lo:.3g}-{hi:.3g}" for lo, hi in zip(edges, edges[1:])]

        def count(side):
            return {k: int(n) for k, n in zip(labels, np.histogram(side, edges)[0]) if n}
    return {"kept": count(kept), "dropped": count(dropped)}


def judge_distribution(rows: pl.DataFrame, ledger: pl.DataFrame) -> dict | None:
    """The judge's scores, kept (from `decisions`) and dropped (from the ledger), per rounded score."""
    kept = decided(rows).filter(pl.col("stage") == JUDGE_STAGE)["score"].drop_nulls()
    dropped = ledger.filter(pl.col("stage") == JUDGE_STAGE)["score"].drop_nulls()
    if kept.is_empty() and dropped.is_empty():
        return None
    counts = score_counts(kept.round().to_numpy(), dropped.round().to_numpy())
    scores = sorted({float(s) for side in counts.values() for s in side})
    return {
        "mean_kept": round(float(kept.mean()), 4) if kept.len() else None,
        "unscored": ledger.filter((pl.col("stage") == JUDGE_STAGE) & pl.col("score").is_null()).height,
        "by_score": [{"score": s, **{side: counts[side].get(f"{s:g}", 0) for side in ("kept", "dropped")}}
                     for s in scores],
    }


def contamination_hits(ledger: pl.DataFrame) -> dict[str, int]:
    """Decontamination drops per benchmark (the source of their reasons: "gsm8k: ...")."""
    return ledger_reasons.by_source(ledger.filter(pl.col("stage") == DECONTAMINATION_STAGE), top=None)


def _distribution(series: pl.Series) -> dict | None:
    values = series.drop_nulls().cast(pl.Float64).to_numpy()
    if len(values) == 0:
        return None
    counts, edges = np.histogram(values, bins=BINS)
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return {
        "rows": len(values), "mean": round(float(values.mean()), 4), "min": float(values.min()),
        "p10": float(p10), "p50": float(p50), "p90": float(p90), "max": float(values.max()),
        "histogram": {"counts": counts.tolist(), "edges": [round(float(e), 4) for e in edges]},
    }


def _counts(rows: pl.DataFrame, *columns: str) -> list[dict]:
    if rows.height == 0:
        return []
    return rows.group_by(*columns).len("rows").sort("rows", *columns, descending=[True, *[False] * len(columns)]).to_dicts()


CHANGE_METRICS = {
    "rows": lambda f: (f["rows"] or {}).get("total"),
    "spent_usd": lambda f: f["cost"]["spent_usd"],
    "mean_cosine_distance": lambda f: f["diversity"]["mean_cosine_distance"],
    "distinct_1": lambda f: f["diversity"]["distinct_1"],
    "distinct_2": lambda f: f["diversity"]["distinct_2"],
    "judge_mean": lambda f: (f["judge"] or {}).get("mean_kept"),
    "response_chars_mean": lambda f: (f["lengths"]["response_chars"] or {}).get("mean"),
    "instruction_chars_mean": lambda f: (f["lengths"]["instruction_chars"] or {}).get("mean"),
}


def change(previous: dict, current: dict) -> dict:
    """Each headline metric before and after, with the difference where both are known."""
    out = {"from": previous.get("version")}
    for name, metric in CHANGE_METRICS.items():
        before, after = metric(previous), metric(current)
        delta = round(after - before, 6) if before is not None and after is not None else None
        out[name] = {"previous": before, "current": after, "delta": delta}
    return out


# --- plots ---------------------------------------------------------------------------------------------------------


def plots(figures: dict) -> dict[str, bytes]:
    """PNG images of the card's distributions (matplotlib, headless), by name."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    images = {}

    def save(name: str, figure) -> None:
        import io

        buffer = io.BytesIO()
        figure.tight_layout()
        figure.savefig(buffer, format="png", dpi=90)
        plt.close(figure)
        images[name] = buffer.getvalue()

    if figures["stages"]:
        figure, axis = plt.subplots(figsize=(7, 0.5 + 0.45 * len(figures["stages"])))
        names = [s["stage"] for s in figures["stages"]][::-1]
        kept = [s["kept"] for s in figures["stages"]][::-1]
        dropped = [s["dropped"] for s in figures["stages"]][::-1]
        axis.barh(names, kept, label="kept", color="#4c72b0")
        axis.barh(names, dropped, left=kept, label="dropped", color="#dd8452")
        axis.set_xlabel("rows")
        axis.legend(loc="upper left", bbox_to_anchor=(1, 1))
        save("stages", figure)
    for name, distributions in (("lengths", figures["lengths"]), ("scores", {**figures["scores"], **figures["rates"]})):
        shown = {k: d for k, d in distributions.items() if d}
        if not shown:
            continue
        figure, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 2.6), squeeze=False)
        for axis, (label, d) in zip(axes[0], shown.items()):
            edges = d["histogram"]["edges"]
            axis.stairs(d["histogram"]["counts"], edges, fill=True, color="#4c72b0")
            axis.set_title(label, fontsize=9)
        save(name, figure)
    if figures["judge"]:
        figure, axis = plt.subplots(figsize=(4.5, 2.6))
        by_score = figures["judge"]["by_score"]
        labels = [str(int(s["score"])) for s in by_score]
        axis.bar(labels, [s["kept"] for s in by_score], label="kept", color="#4c72b0")
        axis.bar(labels, [s["dropped"] for s in by_score], bottom=[s["kept"] for s in by_score], label="dropped",
                 color="#dd8452")
        axis.set_xlabel("judge score")
        axis.legend()
        save("judge", figure)
    return images


# --- a published version -----------------------------------------------------------------------------------------

EVALUATION = "evaluation.json"  # the figures, beside the manifest


def evaluate_version(store, version) -> dict:
    """A published version's figures, with the change from its parent (the parent's saved evaluation, else
    computed now) and the extrinsic evaluations recorded for it (without their per-item scores)."""
    parent_tag = version.manifest().get("parent")
    parent = store.versions().by_tag(parent_tag)
    previous = (_saved_evaluation(store, parent) or _figures(store, parent)) if parent else None
    extrinsic = [{k: v for k, v in record.items() if k != "items"} for record in store.evaluations(version.number)]
    return {**_figures(store, version, previous), "extrinsic": extrinsic}


def _figures(store, version, previous: dict | None = None) -> dict:
    number = version.number
    return evaluate(store.read(number), version.manifest(), store.ledger(number),
                    store.sample_vectors(version, SAMPLE), previous)


def _saved_evaluation(store, version) -> dict | None:
    return store.files.read_json_if_any(f"{version.path}/{EVALUATION}")
