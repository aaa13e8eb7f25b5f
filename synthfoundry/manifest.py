"""What a published version says about itself: the JSON manifest and the human-readable dataset card."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from synthfoundry import __version__
from synthfoundry.config import RunConfig
from synthfoundry.filters.clusters import coverage
from synthfoundry.spend import Spend
from synthfoundry.stages import StageResult

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def code_version() -> str:
    """Package version plus the git commit (and `-dirty`) when running from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{commit}"


def stage_counts(stages: list[StageResult]) -> dict[str, dict[str, int]]:
    return {result.stage: result.counts for result in stages}


def score_distribution(stages: list[StageResult], buckets: int = 10) -> dict[str, dict[str, dict[str, int]]]:
    """Per stage that scores rows, how many kept and dropped rows had each score: by value when the scores are
    whole numbers (a judge's 1-6), else in `buckets` equal-width ranges shared by both sides (a cosine)."""
    distribution = {}
    for stage in stages:
        kept = _stage_scores(stage)
        dropped = stage.dropped["score"].drop_nulls().to_numpy()
        both = np.concatenate([kept, dropped])
        if not len(both):
            continue
        if np.all(both == np.round(both)) and len(np.unique(both)) <= 2 * buckets:
            count = lambda side: {f"{v:g}": int(n) for v, n in zip(*np.unique(side, return_counts=True))}
        else:
            edges = np.histogram_bin_edges(both, bins=buckets)
            labels = [f"{lo:.3g}-{hi:.3g}" for lo, hi in zip(edges, edges[1:])]
            count = lambda side, labels=labels, edges=edges: {
                k: int(n) for k, n in zip(labels, np.histogram(side, edges)[0]) if n}
        distribution[stage.stage] = {"kept": count(kept), "dropped": count(dropped)}
    return distribution


def _stage_scores(stage: StageResult) -> np.ndarray:
    """The kept rows' scores from this stage, as recorded in their `decisions`."""
    if "decisions" not in stage.kept.columns:
        return np.array([])
    entries = stage.kept["decisions"].explode().drop_nulls()
    return entries.filter(entries.struct.field("stage") == stage.stage).struct.field("score").drop_nulls().to_numpy()


def build_manifest(
    config: RunConfig,
    run_id: str,
    seed: int,
    stages: list[StageResult],
    contract: dict,
    forecast_usd: float | None = None,
    compared_with: str | None = None,
) -> dict:
    """The run's spend is the sum of what each stage returned (every request counted, whether its row was kept or
    not), so it is right however many processes the stages ran in. `compared_with`: the published version the run's
    filters compared its rows with (publishing re-checks only rows published after it)."""
    kept = stages[-1].kept
    spend = sum((stage.spend for stage in stages), Spend())
    return {
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "code_version": code_version(),
        "config": config.model_dump(mode="json"),
        "seed": seed,
        "compared_with": compared_with,
        "teacher": main_teacher(kept),
        "stages": stage_counts(stages),
        "scores": score_distribution(stages),
        "tokens": {
            "prompt": int(kept["prompt_tokens"].sum()),
            "completion": int(kept["completion_tokens"].sum()),
        },
        "cost": {
            **spend.summary(config.teacher.budget_usd),
            "forecast_usd": forecast_usd,
            "kept_rows_usd": round(float(kept["cost_usd"].sum()), 6),
            "stages": {stage.stage: stage.spend.summary()["spent_usd"] for stage in stages if stage.spend.requests},
        },
        "contract": contract,
        "ledger_reasons": {stage.stage: r for stage in stages if (r := reason_kinds(stage.dropped))},
        "clusters": cluster_coverage(kept),
    }


def reason_kinds(ledger: pl.DataFrame, top: int = 10) -> dict[str, int]:
    """How many ledger rows share each kind of reason, the text before the first ": " ("gsm8k: item 12 ..."
    counts under "gsm8k"); reasons without one are not counted. The `top` most frequent."""
    kinds = ledger["reason"].str.extract(r"^([^:]+): ", 1).drop_nulls().value_counts(sort=True)
    return dict(kinds.head(top).iter_rows())


def cluster_coverage(rows: pl.DataFrame) -> dict | None:
    """How the published rows spread over the clusters step's clusters (None: the run had no clusters step)."""
    labels = rows["cluster"].drop_nulls() if "cluster" in rows.columns else pl.Series([])
    return coverage(labels.to_numpy()) if labels.len() else None


def main_teacher(rows: pl.DataFrame) -> dict | None:
    """The teacher (provider, model, endpoint) that answered most of the published rows; None when none did."""
    params = rows["teacher_params"].drop_nulls()
    if params.is_empty():
        return None
    answered = json.loads(params.mode().sort()[0])
    return {key: value for key, value in answered.items() if key not in ("temperature", "top_p", "max_tokens")}


def _cost_line(cost: dict) -> str:
    requests = cost.get("requests", {})
    line = (
        f"- cost: ${cost.get('spent_usd', 0):.4f} spent on {requests.get('sent', 0)} requests, "
        f"{requests.get('cached', 0)} answered by the cache (${cost.get('cached_usd', 0):.4f} saved)"
    )
    if cost.get("budget_exhausted"):
        line += f"; budget ${cost['budget_usd']} reached, {requests.get('not_sent_budget', 0)} requests not sent"
    return line


def _teacher_line(teacher: dict | None) -> str:
    if teacher is None:
        return "- teacher: none (the recipe sent no requests)"
    return f"- teacher: {teacher.get('provider')} / {teacher.get('model')}"


def dataset_card(manifest: dict, root: str) -> str:
    """Markdown summary for the Prefect UI and the terminal."""
    lines = [
        f"# {manifest['dataset']} {manifest['version']}",
        "",
        f"- parent: {manifest['parent'] or '(first version)'}",
        f"- rows: {manifest['rows']['added']} added, {manifest['rows']['total']} in total",
        _teacher_line(manifest["teacher"]),
        _cost_line(manifest.get("cost", {})),
        f"- contract `{manifest['contract']['suite']}`: {'passed' if manifest['contract']['success'] else 'FAILED'}",
        f"- code: {manifest['code_version']}, run {manifest['run_id']}",
        "",
        "| stage | in | kept | dropped |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {c['in']} | {c['kept']} | {c['dropped']} |" for name, c in manifest["stages"].items()),
        "",
        f"Data: `{root}/exports/{manifest['dataset']}/{manifest['version']}/` (Parquet shards listed in the manifest)",
        "",
        "```python",
        "from synthfoundry.dataset import DatasetStore",
        f"df = DatasetStore({root!r}, {manifest['dataset']!r}).read({int(manifest['version'][1:])})",
        "```",
    ]
    return "\n".join(lines)
