"""The evaluation report of a published version (the lecture's intrinsic evaluation) and the dataset card made of it.

`evaluate` turns a version's rows, manifest and ledger into figures (a JSON-able dict, kept beside the manifest as
`evaluation.json` so the next version can show what changed); `card_markdown`, `tables` and `plots` render those
figures for the card, for Prefect's markdown and table artifacts, and as PNGs. Only the last section touches a store.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import numpy as np
import polars as pl

SAMPLE = 1000  # rows (and vectors) sampled for diversity: distinct-n depends on corpus size, so it is fixed
TOP_REASONS = 8  # ledger reasons shown per stage; the rest are summed
BINS = 20
JUDGE_STAGE = "quality_judge"
DECONTAMINATION_STAGE = "decontamination"
RATES = {"pass_rate": "policy pass rate", "agreement": "majority agreement"}  # per-row shares filters record
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
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
        "stages": _stages(manifest.get("stages", {})),
        "rejections": rejection_counts(ledger),
        "cost": _cost(manifest),
        "contract": {k: v for k, v in (manifest.get("contract") or {}).items() if k != "failures"},
        "diversity": {
            "sample": sample.height,
            "mean_cosine_distance": mean_cosine_distance(vectors),
            **{f"distinct_{n}": distinct_n(_texts(sample), n) for n in (1, 2)},
            "clusters": _clusters(rows),
        },
        "scores": decision_scores(rows),
        "rates": {name: d for name in RATES if name in rows.columns and (d := _distribution(rows[name]))},
        "judge": judge_distribution(rows, ledger),
        "contamination": contamination_hits(ledger),
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


def rejection_counts(ledger: pl.DataFrame, examples: int = 1, top: int = TOP_REASONS) -> list[dict]:
    """Ledger rows per stage and kind of reason (numbers masked, so "cosine 0.93 > 0.9" and "cosine 0.95 > 0.9"
    are one kind), most frequent first, each with up to `examples` real reasons and texts."""
    if ledger.is_empty():
        return []
    kinds = (
        ledger.with_columns(pl.col("reason").fill_null("").str.replace_all(_NUMBER.pattern, "#").alias("kind"))
        .group_by("stage", "kind", maintain_order=True)
        .agg(pl.len().alias("rows"), pl.struct("reason", "text").head(examples).alias("examples"))
        .sort(["stage", "rows"], descending=[False, True])
    )
    out = []
    for (stage,), group in kinds.group_by("stage", maintain_order=True):
        out.extend(group.head(top).to_dicts())
        rest = group.slice(top)
        if rest.height:
            out.append({"stage": stage, "kind": f"({rest.height} other reasons)", "rows": int(rest["rows"].sum()),
                        "examples": rest["examples"][0].to_list()})
    return out


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


def _clusters(rows: pl.DataFrame) -> dict | None:
    """How evenly rows spread over the `cluster` column an annotator added: 1.0 = all clusters equally used."""
    clusters = rows["cluster"].drop_nulls() if "cluster" in rows.columns else None
    if clusters is None or clusters.is_empty():
        return None
    sizes = clusters.value_counts()["count"].to_numpy()
    shares = sizes / sizes.sum()
    evenness = float(-(shares * np.log(shares)).sum() / math.log(len(sizes))) if len(sizes) > 1 else 0.0
    return {"distinct": len(sizes), "largest_share": round(float(shares.max()), 4), "evenness": round(evenness, 4)}


def decision_scores(rows: pl.DataFrame) -> dict:
    """Each filter's scores on the kept rows, from their `decisions` trail."""
    if "decisions" not in rows.columns or rows.height == 0:
        return {}
    scored = rows.select(pl.col("decisions").explode().struct.unnest()).drop_nulls()
    return {stage: _distribution(group["score"]) for (stage,), group in scored.group_by("stage", maintain_order=True)}


def judge_distribution(rows: pl.DataFrame, ledger: pl.DataFrame) -> dict | None:
    """The judge's scores, kept (from `decisions`) and dropped (from the ledger), per rounded score."""
    kept = pl.Series([], dtype=pl.Float64)
    if "decisions" in rows.columns and rows.height:
        decided = rows.select(pl.col("decisions").explode().struct.unnest())
        kept = decided.filter(pl.col("stage") == JUDGE_STAGE)["score"].drop_nulls()
    dropped = ledger.filter(pl.col("stage") == JUDGE_STAGE)["score"].drop_nulls()
    if kept.is_empty() and dropped.is_empty():
        return None
    kept_counts, dropped_counts = Counter(kept.round().to_list()), Counter(dropped.round().to_list())
    scores = sorted(set(kept_counts) | set(dropped_counts))
    return {
        "mean_kept": round(float(kept.mean()), 4) if kept.len() else None,
        "unscored": ledger.filter((pl.col("stage") == JUDGE_STAGE) & pl.col("score").is_null()).height,
        "by_score": [{"score": s, "kept": kept_counts[s], "dropped": dropped_counts[s]} for s in scores],
    }


def contamination_hits(ledger: pl.DataFrame) -> dict[str, int]:
    """Decontamination drops per benchmark: its reasons start with the benchmark's name ("gsm8k: ...")."""
    from synthfoundry.manifest import reason_kinds

    hits = ledger.filter(pl.col("stage") == DECONTAMINATION_STAGE)
    return reason_kinds(hits, top=max(hits.height, 1))


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


# --- rendering ---------------------------------------------------------------------------------------------------


def tables(figures: dict) -> dict[str, list[dict]]:
    """The card's tables as rows, for Prefect table artifacts (and `--json`)."""
    return {
        "stages": figures["stages"],
        "rejections": [
            {"stage": r["stage"], "kind": r["kind"], "rows": r["rows"], "example": r["examples"][0]["reason"]}
            for r in figures["rejections"]
        ],
        "scores": [{"stage": s, **_summary(d)} for s, d in figures["scores"].items()],
        "lengths": [{"field": name, **_summary(d)} for name, d in figures["lengths"].items() if d],
        "contamination": [{"benchmark": b, "hits": n} for b, n in figures["contamination"].items()],
        "recipes": figures["recipes"],
        "teachers": figures["teachers"],
    }


def _summary(distribution: dict) -> dict:
    return {k: v for k, v in distribution.items() if k != "histogram"}


def _table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(none)"]
    header = list(rows[0])
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(_cell(row.get(k)) for k in header) + " |" for row in rows),
    ]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


def card_markdown(figures: dict, plot_files: dict[str, str] | None = None, root: str | None = None) -> str:
    """The dataset card: what a version holds, how it was made, how good it is, and (given the publish `root` as
    the user named it) how to load it. `plot_files` maps plot names to paths relative to the card."""
    plot_files = plot_files or {}
    rows, cost, diversity = figures["rows"], figures["cost"], figures["diversity"]
    contract = figures["contract"]
    requests = cost["requests"]

    def plot(name: str) -> list[str]:
        return [f"![{name}]({plot_files[name]})", ""] if name in plot_files else []

    lines = [
        f"# {figures['dataset']} {figures['version']}",
        "",
        f"- rows: {rows.get('added', '?')} added, {rows.get('removed', 0)} removed, {rows.get('total')} in total; "
        f"parent {figures['parent'] or '(first version)'}",
        f"- contract `{contract.get('suite')}`: {'passed' if contract.get('success') else 'FAILED'}"
        if contract else "- contract: none recorded",
        f"- cost: {_money(cost['spent_usd'])} spent on {requests.get('sent', 0)} requests "
        f"({requests.get('cached', 0)} from the cache, {_money(cost['cached_usd'])} saved); "
        f"forecast {_money(cost['forecast_usd'])}, budget {_money(cost['budget_usd'])}; "
        f"{_money(cost['per_kept_row_usd'])} per kept row",
        f"- tokens: {cost['tokens'].get('prompt', 0)} prompt, {cost['tokens'].get('completion', 0)} completion",
        *(["- **unfiltered**: published with `filters: none` (no screen, decontamination or deduplication)"]
          if (figures["lineage"]["config"] or {}).get("filters") == "none" else []),
        f"- created {figures['created_at']}, code {figures['lineage']['code_version']}, run {figures['lineage']['run_id']}",
        "",
        "## Pipeline",
        "",
        *_table(figures["stages"]),
        "",
        *plot("stages"),
        "## Why rows were dropped",
        "",
        *_table(tables(figures)["rejections"]),
        "",
        "## Diversity",
        "",
        f"- mean pairwise cosine distance (embeddings, sample of {diversity['sample']}): "
        f"{_cell(diversity['mean_cosine_distance']) or 'n/a'}",
        f"- distinct-1 {_cell(diversity['distinct_1'])}, distinct-2 {_cell(diversity['distinct_2'])} "
        f"(unique / all word n-grams of the responses, same sample)",
    ]
    if diversity["clusters"]:
        c = diversity["clusters"]
        lines.append(f"- clusters: {c['distinct']} used, largest {c['largest_share']:.1%} of rows, evenness {c['evenness']}")
    lines += ["", "## Scores and pass rates", "", *_table(tables(figures)["scores"]), ""]
    for name, rate in figures["rates"].items():
        lines += [f"- {RATES[name]} (`{name}`): mean {rate['mean']}, median {rate['p50']}, over {rate['rows']} rows"]
    lines += [""] if figures["rates"] else []
    lines += plot("scores")
    if figures["judge"]:
        judge = figures["judge"]
        lines += [f"Judge (`{JUDGE_STAGE}`): mean kept score {judge['mean_kept']}, {judge['unscored']} unparseable", "",
                  *_table(judge["by_score"]), "", *plot("judge")]
    lines += ["## Contamination", "", *_table(tables(figures)["contamination"]), "",
              "## Lengths", "", *_table(tables(figures)["lengths"]), "", *plot("lengths"),
              "## Recipes and teachers", "", *_table(figures["recipes"]), "", *_table(figures["teachers"]), "",
              "## Lineage", "", *_lineage(figures["lineage"]), ""]
    if figures["change"]:
        changed = [{"metric": k, **v} for k, v in figures["change"].items() if k != "from"]
        lines += [f"## Change from {figures['change']['from']}", "", *_table(changed), ""]
    if root is not None:
        dataset, number = figures["dataset"], int(str(figures["version"]).lstrip("v"))
        lines += ["## Load it", "", "```python", "from synthfoundry.dataset import DatasetStore",
                  f"store = DatasetStore({root!r}, {dataset!r})",
                  f"df = store.read({number})                    # polars", "import datasets",
                  f"ds = datasets.load_dataset('parquet', data_files=store.data_files({number}), split='train')",
                  "```", "", f"For a trainer: `synthfoundry export {dataset} --root {root} --version {number} "
                  "--format hf|trl|dpo|verl|jsonl --out DIR`.", ""]
    return "\n".join(lines)


def _lineage(lineage: dict) -> list[str]:
    teacher = lineage["teacher"] or {}
    lines = [
        f"- run `{lineage['run_id']}`, seed {lineage['seed']}, code {lineage['code_version']}",
        f"- teacher: {teacher.get('provider', 'none')} / {teacher.get('model', '-')}",
        "- prompt templates: " + ", ".join(
            f"{t['recipe']} `{t['template_hash']}` ({t['rows']} rows)" for t in lineage["templates"]
        ),
    ]
    if lineage["rollback_of"]:
        lines.append(f"- a rollback: same rows as {lineage['rollback_of']}")
    if lineage["config"]:
        lines += ["", "<details><summary>run config</summary>", "", "```json",
                  json.dumps(lineage["config"], indent=2), "```", "", "</details>"]
    return lines


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

CARD, EVALUATION, PLOTS = "card.md", "evaluation.json", "plots"


def evaluate_version(store, version) -> dict:
    """A published version's figures, with the change from its parent (the parent's saved evaluation, else
    computed now)."""
    parent_tag = version.manifest().get("parent")
    parent = store.versions().by_tag(parent_tag)
    previous = (_saved_evaluation(store, parent) or _figures(store, parent)) if parent else None
    return _figures(store, version, previous)


def _figures(store, version, previous: dict | None = None) -> dict:
    number = version.number
    return evaluate(store.read(number), version.manifest(), store.ledger(number),
                    store.sample_vectors(version, SAMPLE), previous)


def _saved_evaluation(store, version) -> dict | None:
    return store.files.read_json_if_any(f"{version.path}/{EVALUATION}")


def write_card(store, version, figures: dict, images: dict[str, bytes]) -> list[str]:
    """card.md, evaluation.json and the `plots` PNGs beside the version's manifest; returns the files written."""
    links = {name: f"{PLOTS}/{name}.png" for name in images}
    files = {links[name]: image for name, image in images.items()}
    files[CARD] = card_markdown(figures, links, store.root).encode()
    files[EVALUATION] = json.dumps(figures, indent=2, default=str).encode()
    written = []
    for name, data in files.items():
        store.files.write(f"{version.path}/{name}", data)
        written.append(f"{version.path}/{name}")
    return written
