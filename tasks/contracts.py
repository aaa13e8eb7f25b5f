"""Data-contract task: a failed contract stops the run before anything is published."""

from __future__ import annotations

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact

from synthfoundry.contracts import ContractResult, load_suite, suite_path, validate


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
    if not result.success:
        raise ContractFailed(result.summary())
    return result
