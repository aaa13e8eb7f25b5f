"""Publish task: the next immutable version, with its dataset card as a Prefect artifact."""

from __future__ import annotations

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact

from synthfoundry.store import DatasetStore, PublishedVersion
from synthfoundry.manifest import dataset_card


@task
def publish_version(store: DatasetStore, rows: pl.DataFrame, ledger: pl.DataFrame, manifest: dict) -> PublishedVersion:
    version = store.publish(rows, ledger, manifest)
    create_markdown_artifact(
        key=f"dataset-card-{store.dataset}".lower().replace("_", "-"),
        markdown=dataset_card(version.manifest(), version.data_path),
        description=f"{store.dataset} {version.tag}",
    )
    return version
