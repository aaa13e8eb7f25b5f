"""A flow run's identity in the UI: the run config it resolved (kept as an artifact), its name
(`{dataset}-{recipe}-{date}`, and a backfill child's shard), its tags (dataset, recipe, the models that answered),
and the project's own logs beside Prefect's.

Also where its fanned-out stages run: the flow's threads, or a Dask cluster the config names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import yaml
from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.task_runners import TaskRunner

from synthfoundry.config import ConfigError, RunConfig, RunnerConfig, load_config, parse_config
from synthfoundry.redaction import RedactingFilter
from synthfoundry.stages import StageResult
from tasks.monitor import artifact_key

SHARD_TAG = "backfill-shard:"  # a backfill's child run carries its shard's name in this tag


def config_from(config: RunConfig | dict | None, config_path: str | None) -> RunConfig:
    """The run's config: given as a value (the run form), or read from a file on the worker."""
    if (config is None) == (config_path is None):
        raise ConfigError("give the run config either as `config` or as `config_path`, not both and not neither")
    if config_path is not None:
        return load_config(config_path)
    return config if isinstance(config, RunConfig) else parse_config(config, "config")


def run_name() -> str:
    """`{dataset}-{recipe}-{date}` from the run's parameters and its scheduled date; a backfill's child adds its
    shard (`… seed-3`), so the children of one backfill tell apart."""
    parameters = flow_run.parameters
    config = _config_or_none(parameters.get("config"), parameters.get("config_path"))
    date = flow_run.scheduled_start_time or datetime.now(UTC)
    name = f"{config.dataset}-{config.recipe.name}-{date:%Y-%m-%d}" if config else f"bad-config-{date:%Y-%m-%d}"
    shard = next((tag.removeprefix(SHARD_TAG) for tag in flow_run.tags if tag.startswith(SHARD_TAG)), None)
    return f"{name} {shard}" if shard else name


def backfill_name() -> str:
    parameters = flow_run.parameters
    shards = parameters["shards"]
    kind = shards["kind"] if isinstance(shards, dict) else shards.kind
    config = _config_or_none(parameters["config"], None)
    return f"backfill-{config.dataset if config else 'bad-config'}-{kind}"


def _config_or_none(config: RunConfig | dict | None, config_path: str | None) -> RunConfig | None:
    """The run's config, or None when it cannot be read: a run name that raised would crash the run, while the
    flow's own `config_from` fails it with the reason as its message."""
    try:
        return config_from(config, config_path)
    except ValueError:
        return None


def announce(config: RunConfig) -> None:
    """One log line of what the run makes, the resolved config as an artifact (not the first screen of logs), and
    the run's dataset and recipe tags."""
    steps = ", ".join(step.name for step in config.filters) or "none"
    key = artifact_key(config.dataset, "run-config")
    get_run_logger().info("making %s with recipe %s, filters %s, contract %s (the whole config: artifact %s)",
                          config.dataset, config.recipe.name, steps, config.contract_suite, key)
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    create_markdown_artifact(
        f"## Run config of `{config.dataset}`\n\n```yaml\n{text}```",
        key=key,
        description=f"{config.dataset}: the run config as resolved (defaults filled in)",
    )
    tag_run(f"dataset:{config.dataset}", f"recipe:{config.recipe.name}")


def tag_teachers(stages: Iterable[StageResult]) -> None:
    """Tag the run with each model that answered its rows (`teacher:openai:gpt-4o-mini`, a fallback's too), read
    from the rows: the model that ran, not the config's `auto`. A run that asked none gets no teacher tag."""
    answered = set()
    for stage in stages:
        if {"teacher_provider", "teacher_model"} <= set(stage.kept.columns):
            pairs = stage.kept.select("teacher_provider", "teacher_model").drop_nulls().unique()
            answered |= {f"teacher:{provider}:{model}" for provider, model in pairs.iter_rows()}
    tag_run(*answered)


def tag_run(*tags: str) -> None:
    if flow_run.id and tags:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            current = client.read_flow_run(flow_run.id).tags
            client.update_flow_run(flow_run.id, tags=sorted({*current, *tags}))


def show_project_logs() -> None:
    """Send the `synthfoundry` logger's records to the run's logs in the UI, as PREFECT_LOGGING_EXTRA_LOGGERS
    would (Prefect gives extra loggers the handlers of its `prefect.extra` logger), with key-shaped text masked."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    project = logging.getLogger("synthfoundry")
    for handler in logging.getLogger("prefect.extra").handlers:
        if handler not in project.handlers:
            project.addHandler(handler)
    if project.level == logging.NOTSET:
        project.setLevel(logging.INFO)
    redact_logs()


# Where records are written: the root's console and Prefect's API handlers (the run logs in the UI).
_WRITERS = ("", "prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.extra")


def redact_logs(secrets: Iterable[str | None] = ()) -> None:
    """Make every handler a run writes to redact records, with `secrets` added to the values it masks: at the
    flow's start, and in each process where a teacher learns its keys (the flow's, or a Dask worker's)."""
    for name in _WRITERS:
        for handler in logging.getLogger(name).handlers:
            redacting = next((f for f in handler.filters if isinstance(f, RedactingFilter)), None)
            if redacting is None:
                handler.addFilter(redacting := RedactingFilter())
            redacting.secrets.update(s for s in secrets if s)


def flow_threads() -> TaskRunner:
    """The flow run's own task runner: threads of the flow's process."""
    from prefect.context import FlowRunContext

    return FlowRunContext.get().task_runner


_CLOSING = "close-dask-cluster"


@contextmanager
def stage_runner(config: RunnerConfig) -> Iterator[TaskRunner]:
    """The task runner the fanned-out stages go to: the flow's own threads, or a Dask cluster for this run (a local
    one, or the scheduler at `address`). Their results carry their spend and the cap is shared, so accounting is the
    same either way.

    A local cluster's workers take seconds to exit (interpreter shutdown with torch loaded: ~2 s): it is closed in
    the background while the run checks its contract and publishes, and the flow's process waits for that before
    it exits (the thread is not a daemon).
    """
    if config.kind == "local":
        yield flow_threads()
        return
    from prefect_dask import DaskTaskRunner

    if config.address:
        runner = DaskTaskRunner(address=config.address)
    else:
        runner = DaskTaskRunner(cluster_kwargs={"n_workers": config.n_workers, "processes": True})
    runner.__enter__()
    try:
        yield runner
    finally:
        threading.Thread(target=runner.__exit__, args=(None, None, None), name=_CLOSING).start()


def wait_for_closing_clusters() -> None:
    """Wait for the clusters `stage_runner` is closing in the background: for a caller that goes on in the same
    process and must see them gone (a test, a notebook running several flows)."""
    for thread in threading.enumerate():
        if thread.name == _CLOSING:
            thread.join()
