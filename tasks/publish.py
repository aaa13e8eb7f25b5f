"""Publish task: the next immutable version, with its dataset card as a Prefect artifact."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from synthfoundry.store import DatasetStore, PublishedVersion
from synthfoundry.manifest import dataset_card


@task
def publish_version(
    store: DatasetStore,
    rows: pl.DataFrame,
    ledger: pl.DataFrame,
    manifest: dict,
    near_duplicate_threshold: float | None = None,
) -> PublishedVersion:
    """`near_duplicate_threshold`: rows too close to rows another run published meanwhile go to the ledger."""
    done = store.published_by_run(manifest["run_id"])
    if done is not None:
        get_run_logger().info(f"run {manifest['run_id']} already published {done.tag}")
        return done
    version = store.publish(rows, ledger, manifest, near_duplicate_threshold)
    create_markdown_artifact(
        key=f"dataset-card-{store.dataset}".lower().replace("_", "-"),
        markdown=dataset_card(version.manifest(), store.root),
        description=f"{store.dataset} {version.tag}",
    )
    return version
