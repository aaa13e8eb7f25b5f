"""Data-contract tasks: a failed contract stops the run before anything is published, and says why."""

from __future__ import annotations

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact

from synthfoundry.contracts import ContractResult, load_suite, suite_path, validate
from synthfoundry.store import DatasetStore


class ContractFailed(RuntimeError):
    """The candidate version broke its data contract; nothing was published."""


@task
def check_contract(frame: pl.DataFrame, suite_name: str) -> ContractResult:
    result = validate(frame, load_suite(suite_path(suite_name)))
    create_markdown_artifact(
        key="data-contract",
        markdown=f"## Data contract `{result.suite}`\n\n```\n{result.summary()}\n```",
        description="great-expectations validation of the candidate version",
    )
    return result


@task
def refuse_publication(store: DatasetStore, ledger: pl.DataFrame, manifest: dict, result: ContractResult) -> None:
    """Keep the run's ledger and manifest for inspection, then fail the run; published versions stay untouched."""
    report = store.write_run_report(ledger, manifest)
    hint = "No row survived the filters. " if result.rows == 0 else ""
    raise ContractFailed(f"{result.summary()}\n{hint}Nothing was published; the run's ledger and manifest: {report}")
