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

from flows.ephemeral import ephemeral_api
from synthfoundry.card import summary_card
from synthfoundry.config import RunConfig
from synthfoundry.dataset import DatasetStore, NothingNew, PublishError
from synthfoundry.errors import SynthfoundryError
from synthfoundry.filters import get_filter
from synthfoundry.manifest import build_manifest
from synthfoundry.recipes import get_recipe
from synthfoundry.records import to_published
from synthfoundry.rounds import Progress, Round, describe, first_round, next_round, outcome, trimmed, without_repeats
from synthfoundry.sandbox import Sandbox
from synthfoundry.spend import Spend
from synthfoundry.stages import StageResult, combine, with_spend
from tasks.contracts import check_contract, nothing_new, refuse_publication, skip_publication
from tasks.crashes import injected
from tasks.distillation import distill_batch, forecast_distillation
from tasks.failures import ContractFailed, PreflightFailed, failed, quiet_run_end
from tasks.filters import embed_rows, run_filter
from tasks.monitor import RunMonitor, Step, report_stages
from tasks.preflight import check_run
from tasks.publish import already_published, publish_version, published_state
from tasks.runs import announce, config_from, flow_threads, run_name, show_project_logs, stage_runner, tag_teachers
from tasks.synthesis import synthesize

PROGRESS_STEPS = 10  # distillation runs in batches of at most a tenth of its rows, so its progress moves


def batches(frame: pl.DataFrame, size: int, share: int = 1) -> list[pl.DataFrame]:
    """Slices of at most `size` rows and at most a `1/share` part of the frame (rounded up)."""
    return list(frame.iter_slices(min(size, max(1, -(-frame.height // share))))) or [frame]


def make_round(plan: Round, config: RunConfig, teacher, published, sandbox, monitor: RunMonitor, runner,
               made: set[str], steps: list) -> tuple[list[StageResult], float | None]:
    """One round: synthesis (prompts made in earlier rounds dropped), then each batch streamed through
    distillation -> embedding -> the filters that judge row by row (`steps`)."""
    recipe = get_recipe(config.recipe.name)
    synthesis = monitor.record(without_repeats(synthesize(plan.recipe, teacher, plan.seed, config.dataset, sandbox),
                                                  made))
    forecast_usd, stream = None, []
    if config.distills:
        forecast_usd = forecast_distillation(synthesis.kept, teacher)["usd"]
        stream.append(Step("distillation", distill_batch, "batch", {"teacher_config": teacher}))
    stream.append(Step("embedding", embed_rows, "frame", {"column": recipe.EMBED_COLUMN, "config": config.embedding}))
    stream += [Step(step.name, run_filter.with_options(task_run_name=f"filter-{step.name}"), "frame", {
        "config": step, "teacher_config": teacher, "published": published, "embedding": config.embedding,
        "text_column": recipe.EMBED_COLUMN, "seed": plan.seed, "sandbox": sandbox,
    }) for step in steps]
    share = PROGRESS_STEPS if config.distills and teacher.mode == "online" else 1  # a batch API is better sent whole
    parts = batches(synthesis.kept, config.batch_size, share)
    # batches that keep the teacher busy: each process (a Dask worker) has its own in-flight limit
    processes = config.runner.n_workers if config.runner.kind == "dask" else 1
    ahead = max(2, -(-teacher.max_in_flight // max(1, parts[0].height)) + 1) * processes
    return [synthesis, *monitor.stream(runner, parts, stream, ahead)], forecast_usd


def judge(steps: list, rows: pl.DataFrame, config: RunConfig, teacher, published, sandbox, monitor: RunMonitor,
          runner, seed: int) -> list[StageResult]:
    """The filter `steps`, in order, on `rows`."""
    recipe = get_recipe(config.recipe.name)
    stages = []
    for step in steps:
        task = run_filter.with_options(task_run_name=f"filter-{step.name}")
        # a filter that compares rows takes them all as one batch: nothing to spread, so it runs where they are
        whole = get_filter(step.name).COMPARES_ROWS
        parts = [rows] if whole else batches(rows, config.batch_size)
        stages.append(monitor.gather((flow_threads() if whole else runner).map(task, {
            "frame": parts, "config": unmapped(step), "teacher_config": unmapped(teacher),
            "published": unmapped(published), "embedding": unmapped(config.embedding),
            "text_column": unmapped(recipe.EMBED_COLUMN), "seed": unmapped(seed), "sandbox": unmapped(sandbox),
        }), step.name))
        rows = stages[-1].kept
    return stages


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
    store = DatasetStore(config.publish.root, config.dataset, crash=injected(), storage=config.publish.storage_options)
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

    # Filters that judge row by row run on each round's rows; from the first that compares rows on, on all of them.
    compares = [get_filter(step.name).COMPARES_ROWS for step in config.filters]
    head = compares.index(True) if True in compares else len(compares)
    per_round, whole, earlier, made, forecast_usd = [], [], Spend(), set(), None
    plan = first_round(recipe, config.recipe, seed, config.target, sandbox)
    with stage_runner(config.runner) as runner:
        while isinstance(plan, Round):
            stages, forecast = make_round(plan, config, teacher, published, sandbox, monitor, runner, made,
                                          config.filters[:head])
            per_round.append(stages)
            forecast_usd = forecast if forecast_usd is None else forecast_usd + (forecast or 0.0)
            earlier = sum((stage.spend for stage in whole), earlier)
            rows = pl.concat([stages[-1].kept for stages in per_round], how="vertical_relaxed")
            whole = judge(config.filters[head:], rows, config, teacher, published, sandbox, monitor, runner, seed)
            candidates = sum(stages[0].kept.height for stages in per_round)
            done = Progress(len(per_round), candidates, (whole[-1].kept if whole else rows).height, monitor.spend)
            plan = next_round(recipe, config.recipe, seed, config.target, done, teacher.budget_usd,
                              teacher.allow_over_forecast, get_run_logger().info)
    stages = [combine([stages[i] for stages in per_round]) for i in range(len(per_round[0]))]
    if whole:
        stages += [with_spend(whole[0], earlier), *whole[1:]]
    if (cut := trimmed(stages[-1], config.target)) is not None:
        stages.append(cut)
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
    manifest["target"] = outcome(config.target, len(per_round), rows.height, plan)
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
    print(summary_card(version.manifest(), store.root, store.files.storage).markdown())
    target = manifest["target"]
    return published_state(version, monitor.spend, describe(target) if target and target["short_because"] else None)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m flows.generate RUN_CONFIG.yaml")
    try:
        with ephemeral_api():
            state = generate_dataset(config_path=sys.argv[1], return_state=True)
    except SynthfoundryError as error:  # the run never started: no run log to end on
        sys.exit(f"error: {error}")
    if state.is_failed() or state.is_crashed():
        sys.exit(1)  # the message is the run's last log line
