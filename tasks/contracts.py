"""Data-contract tasks: a failed contract stops the run before anything is published, and says why; a run that
found nothing new ends Completed, saying so. Either way the run's ledger and manifest are kept, and its card says
what happened."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from synthfoundry.card import Card, run_card
from synthfoundry.contracts import ContractResult, load_suite, suite_path, validate
from synthfoundry.dataset import DatasetStore
from synthfoundry.ledger import top_reasons
from synthfoundry.spend import Spend
from synthfoundry.stages import StageResult
from tasks.crashes import checkpoint
from tasks.events import emit_dataset_event
from tasks.monitor import artifact_key


@task
def check_contract(frame: pl.DataFrame, suite_name: str, dataset: str) -> ContractResult:
    checkpoint("contract")
    result = validate(frame, load_suite(suite_path(suite_name)))
    create_markdown_artifact(
        key=artifact_key(dataset, "data-contract"),
        markdown=f"## Data contract `{result.suite}` of `{dataset}`\n\n```\n{result.summary()}\n```",
        description=f"{dataset}: great-expectations validation of the candidate version",
    )
    return result


def nothing_new(rows: pl.DataFrame, stages: list[StageResult], spend: Spend) -> bool:
    """No row survived because what the run made is already published (a re-run of a finished backfill shard):
    some filter dropped rows as copies of published ones, and the budget did not run out."""
    return rows.height == 0 and not spend.exhausted and any(stage.copies_of_published for stage in stages)


@task
def skip_publication(store: DatasetStore, ledger: pl.DataFrame, manifest: dict) -> str:
    """Keep the run's ledger and manifest and say there was nothing new: the run ends Completed."""
    report = store.write_run_report(ledger, manifest)
    latest = store.latest()
    message = (
        f"nothing new to publish: every row this run made is already in {store.dataset} "
        f"{latest.tag if latest else ''} ({top_reasons(ledger)}); the run's ledger and manifest: {report}"
    )
    _card(store.dataset, run_card(store.dataset, "nothing new", [message], manifest), manifest)
    get_run_logger().info(message)
    return message


@task
def refuse_publication(store: DatasetStore, ledger: pl.DataFrame, manifest: dict, result: ContractResult) -> str:
    """Keep the run's ledger and manifest for inspection; returns why the run fails. Published versions stay
    untouched."""
    report = store.write_run_report(ledger, manifest)
    hint = "No row survived the filters. " if result.rows == 0 else ""
    cost = manifest["cost"]
    if cost["budget_exhausted"]:
        hint += (f"The budget of ${cost['budget_usd']} ran out: {cost['requests']['not_sent_budget']} requests "
                 "were not sent (raise teacher.budget_usd). ")
    message = (
        f"{result.summary()}\n{hint}Most dropped: {top_reasons(ledger)}.\n"
        f"Nothing was published; the run's ledger and manifest: {report}"
    )
    failed = run_card(store.dataset, f"contract `{result.suite}` FAILED", ["```", message, "```"], manifest)
    _card(store.dataset, failed, manifest)
    emit_dataset_event("contract-failed", store.dataset, {
        "suite": result.suite, "rows": result.rows, "run_id": manifest["run_id"], "report": str(report),
    })
    return message


def _card(dataset: str, card: Card, manifest: dict) -> None:
    """The dataset's card artifact for a run that published nothing (same key as a published version's card)."""
    create_markdown_artifact(key=artifact_key(dataset, "dataset-card"), markdown=card.markdown(),
                             description=f"{dataset}: run {manifest['run_id']} published nothing")
