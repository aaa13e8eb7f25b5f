"""The run's first task: the forecast and every check that needs no teacher, before anything is sent."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from synthfoundry.config import RunConfig
from synthfoundry.preflight import PreflightReport, preflight
from tasks.monitor import artifact_key
from tasks.teacher import secret_exists


@task
def check_run(config: RunConfig) -> PreflightReport:
    """The checks and the forecast; the flow stops on a failed check (`report.message()` lists every problem)."""
    report = preflight(config, secret_exists=secret_exists)
    if report.forecast is not None:
        get_run_logger().info("forecast: %s", report.forecast.summary())
        create_markdown_artifact(
            key=artifact_key(config.dataset, "forecast"),
            markdown=f"## Forecast\n\n{report.forecast.summary()}\n\n" + "\n".join(
                f"- {name}: {e.requests} requests, {e.prompt_tokens} prompt + {e.completion_tokens} answer tokens"
                for name, e in report.forecast.stages.items()
            ),
            description=f"{config.dataset}: upper bound of what the run will ask of the teacher",
        )
    return report
