"""seeds -> query synthesis -> distillation -> embed -> filters (in the config's order) -> contract -> publish vN.

Run it: `python -m flows.generate deployments/configs/quickstart.yaml`, or from a deployment's run form, which
shows the run config's fields (recipe, teacher, filters, budget) with their descriptions.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime

import polars as pl
from prefect import flow, get_run_logger, unmapped
from prefect.runtime import flow_run
from prefect.states import Completed, State

from synthfoundry.card import summary_card
from synthfoundry.config import RunConfig
from synthfoundry.dataset import DatasetStore, NothingNew, PublishError
from synthfoundry.errors import SynthfoundryError
from synthfoundry.filters import get_filter
from synthfoundry.manifest import build_manifest
from synthfoundry.recipes import get_recipe
from synthfoundry.records import to_published
from synthfoundry.sandbox import Sandbox
from tasks.contracts import check_contract, nothing_new, refuse_publication, skip_publication
from tasks.crashes import injected
from tasks.distillation import distill_batch, forecast_distillation
from tasks.failures import ContractFailed, PreflightFailed, failed, quiet_run_end
from tasks.filters import embed_rows, run_filter
from tasks.monitor import RunMonitor, report_stages
from tasks.preflight import check_run
from tasks.publish import already_published, publish_version, published_state
from tasks.runs import announce, config_from, flow_threads, run_name, show_project_logs, stage_runner, tag_teachers
from tasks.synthesis import synthesize

PROGRESS_STEPS = 10  # distillation runs in batches of at most a tenth of its rows, so its progress moves


def batches(frame: pl.DataFrame, size: int, share: int = 1) -> list[pl.DataFrame]:
    """Slices of at most `size` rows and at most a `1/share` part of the frame (rounded up)."""
    return list(frame.iter_slices(min(size, max(1, -(-frame.height // share))))) or [frame]


@flow(name="generate-dataset", flow_run_name=run_name, log_prints=True)
def generate_dataset(config: RunConfig | None = None, config_path: str | None = None) -> str | State:
    """Make and publish the next version of the dataset a run config describes; returns the version's folder.

    Give the run config itself (`config`: the run form's fields) or the path of its YAML file on the worker.
    An expected failure (see tasks/failures.py) ends the run Failed with its message and no traceback.
    """
    show_project_logs()
    quiet_run_end()
    try:
        return generate(config_from(config, config_path))
    except SynthfoundryError as error:
        return failed(error)


def generate(config: RunConfig) -> str | State:
    """The run itself; its expected failures are returned as the run's Failed state (or raised by its tasks)."""
    announce(config)
    report = check_run(config)
    if not report.ok:
        return failed(PreflightFailed(report.message()))
    run_id = str(flow_run.id or f"local-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    store = DatasetStore(config.publish.root, config.dataset, crash=injected())
    versions = store.versions()
    done = versions.by_run(run_id)
    if done is not None:  # this run, resumed after a crash that came after its commit
        return Completed(message=already_published(store, done))
    latest = versions.latest
    published = store.published(latest)  # what the filters compare with: `compared_with` in the manifest
    seed = config.seed_for(latest.number + 1 if latest else 1)
    seed = random.randrange(2**31) if seed is None else seed
    recipe = get_recipe(config.recipe.name)
    teacher = config.teacher.with_cache_under(config.publish.root)
    monitor = RunMonitor(config.dataset, teacher.budget_usd)
    sandbox = Sandbox(config.sandbox) if config.runs_code else None  # one pool per process (a Dask worker: its own)

    with stage_runner(config.runner) as runner:
        stages = [monitor.record(synthesize(config.recipe, teacher, seed, config.dataset, sandbox))]
        forecast_usd = None
        if config.distills:
            forecast_usd = forecast_distillation(stages[-1].kept, teacher)["usd"]
            steps = PROGRESS_STEPS if teacher.mode == "online" else 1  # a provider's batch API is better sent whole
            parts = batches(stages[-1].kept, config.batch_size, steps)
            stages.append(monitor.gather(
                runner.map(distill_batch, {"batch": parts, "teacher_config": unmapped(teacher)}), "distillation"
            ))
        parts = batches(stages[-1].kept, config.batch_size)
        rows = monitor.gather(runner.map(embed_rows, {
            "frame": parts, "column": unmapped(recipe.EMBED_COLUMN), "config": unmapped(config.embedding),
        }), "embedding").kept
        for step in config.filters:
            judge = run_filter.with_options(task_run_name=f"filter-{step.name}")
            # a filter that compares rows takes them all as one batch: nothing to spread, so it runs where they are
            whole = get_filter(step.name).COMPARES_ROWS
            parts = [rows] if whole else batches(rows, config.batch_size)
            stages.append(monitor.gather((flow_threads() if whole else runner).map(judge, {
                "frame": parts, "config": unmapped(step), "teacher_config": unmapped(teacher),
                "published": unmapped(published), "embedding": unmapped(config.embedding),
                "text_column": unmapped(recipe.EMBED_COLUMN), "seed": unmapped(seed), "sandbox": unmapped(sandbox),
            }), step.name))
            rows = stages[-1].kept

    rows = to_published(rows.with_columns(
        pl.lit(run_id).alias("run_id"), pl.lit(datetime.now(UTC)).alias("created_at")
    ))
    report_stages(config.dataset, stages)
    tag_teachers(stages)
    ledger = pl.concat([stage.dropped for stage in stages]).with_columns(pl.lit(run_id).alias("run_id"))
    contract = check_contract(rows.drop("vector"), config.contract_suite, config.dataset)
    manifest = build_manifest(config, run_id, seed, stages, contract.to_dict(), forecast_usd,
                              latest.tag if latest else None)
    if nothing_new(rows, stages, monitor.spend):
        return Completed(message=skip_publication(store, ledger, manifest))
    if not contract.success:
        return failed(ContractFailed(refuse_publication(store, ledger, manifest, contract)))
    version = publish_version(store, rows, ledger, manifest, config.filters, recipe.EMBED_COLUMN)
    if isinstance(version, NothingNew):  # the same run started twice: the other one published these rows
        get_run_logger().info(str(version))
        return Completed(message=str(version))
    if isinstance(version, PublishError):
        return failed(version)
    print(summary_card(version.manifest(), store.root).markdown())
    return published_state(version, monitor.spend)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m flows.generate RUN_CONFIG.yaml")
    state = generate_dataset(config_path=sys.argv[1], return_state=True)
    if state.is_failed() or state.is_crashed():
        sys.exit(1)  # the message is the run's last log line
