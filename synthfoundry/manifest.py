"""What a published version says about itself: the JSON manifest (card.py renders it for people)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from synthfoundry import __version__
from synthfoundry.config import RunConfig
from synthfoundry.filters.clusters import cluster_coverage
from synthfoundry.ledger import by_source
from synthfoundry.records import decided
from synthfoundry.report import score_counts
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
    """Per stage that scores rows, how many rows it kept and dropped had each score (`score_counts`)."""
    distribution = {}
    for stage in stages:
        kept = decided(stage.kept).filter(pl.col("stage") == stage.stage)["score"].drop_nulls().to_numpy()
        dropped = stage.dropped["score"].drop_nulls().to_numpy()
        if len(kept) or len(dropped):
            distribution[stage.stage] = score_counts(kept, dropped, buckets)
    return distribution


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
        "ledger_reasons": {stage.stage: r for stage in stages if (r := by_source(stage.dropped))},
        "clusters": cluster_coverage(kept),
        "sandbox": sandbox_record(config),
    }


def sandbox_record(config: RunConfig) -> dict | None:
    """How model-written code ran: the isolation in use and the limits (None: the run ran no code)."""
    if not config.runs_code:
        return None
    from synthfoundry.sandbox import Sandbox

    return Sandbox(config.sandbox).describe()


def main_teacher(rows: pl.DataFrame) -> dict | None:
    """The teacher (provider, model, endpoint) that answered most of the published rows; None when none did."""
    params = rows["teacher_params"].drop_nulls()
    if params.is_empty():
        return None
    answered = json.loads(params.mode().sort()[0])
    return {key: value for key, value in answered.items() if key not in ("temperature", "top_p", "max_tokens")}
