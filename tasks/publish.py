"""Publish task: the next immutable version, with its dataset card as a Prefect artifact and a `published` event
(which the shipped automation answers by running the export deployment)."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from synthfoundry.manifest import dataset_card
from synthfoundry.store import DatasetStore, PublishedVersion
from tasks.events import emit_dataset_event
from tasks.monitor import artifact_key


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
        key=artifact_key(store.dataset, "dataset-card"),
        markdown=dataset_card(version.manifest(), store.root),
        description=f"{store.dataset} {version.tag}",
    )
    emit_dataset_event("published", store.dataset, {
        "version": version.tag, "number": version.number, "rows_added": rows.height,
        "root": str(store.root), "path": version.path, "run_id": manifest["run_id"],
    })
    return version
