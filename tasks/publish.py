"""Publish task: the next immutable version, then its dataset card and evaluation report (beside the manifest and
as a Prefect markdown artifact) and a `published` event (which the shipped automation answers by running
the export deployment)."""

from __future__ import annotations

import base64

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.states import Completed, State
from pydantic import BaseModel

from synthfoundry import card, report
from synthfoundry.dataset import DatasetStore, PublishedVersion, PublishError, Recheck
from synthfoundry.filters import get_filter
from synthfoundry.spend import Spend
from tasks.events import emit_dataset_event
from tasks.monitor import artifact_key

NIGHTLY = "nightly"  # the tag of the scheduled deployments (deployments/prefect.yaml)


@task
def publish_version(
    store: DatasetStore,
    rows: pl.DataFrame,
    ledger: pl.DataFrame,
    manifest: dict,
    filters: list[BaseModel] = (),
    text_column: str = "instruction",
) -> PublishedVersion | PublishError:
    """The new version, or the PublishError saying why there is none (returned, not raised: the flow ends on it
    with its message, Completed when another run published these rows meanwhile). Rows that copy a row another run
    published meanwhile, by the rule of any of the run's `filters` that compares rows with published ones (its
    `recheck`), go to the ledger."""
    try:
        version = store.publish(rows, ledger, manifest, rechecking(filters, text_column))
    except PublishError as error:
        return error
    announce_version(store, version)
    if NIGHTLY in flow_run.tags:  # a scheduled run of a nightly deployment: its version is found by its date too
        store.tag(f"nightly-{flow_run.scheduled_start_time:%Y-%m-%d}", version.number)
    return version


def published_state(version: PublishedVersion, spend: Spend, note: str | None = None) -> State:
    """The Completed state of a run that published, saying what (`published v4: +1,204 rows, $3.18`, then `note`,
    e.g. why a target was not reached); its result is the version's folder."""
    usd = spend.spent_usd
    cost = f"${usd:,.2f}" if usd == 0 or usd >= 0.01 else f"${usd:.4f}"
    message = f"published {version.tag}: +{version.record['rows']['added']:,} rows, {cost}"
    return Completed(message=message + (f"; {note}" if note else ""), data=version.path)


@task
def already_published(store: DatasetStore, version: PublishedVersion) -> str:
    """A resumed run that was killed after its commit: say so, and make the card and event it never got to."""
    if not store.files.exists(f"{version.path}/{card.CARD}"):
        announce_version(store, version)
    message = f"run {version.record['run_id']} already published {store.dataset} {version.tag}: nothing more to do"
    get_run_logger().info(message)
    return message


def rechecking(filters: list[BaseModel], text_column: str) -> Recheck | None:
    """One re-check made of every step's own `recheck`: a row's reason is the first step's that finds a copy."""
    rules = [(get_filter(step.name).recheck, step) for step in filters if hasattr(get_filter(step.name), "recheck")]
    if not rules:
        return None

    def recheck(rows: pl.DataFrame, published) -> list[str | None]:
        reasons = [None] * rows.height
        for rule, step in rules:
            found = rule(rows, published, step, text_column)
            reasons = [mine or theirs for mine, theirs in zip(reasons, found, strict=True)]
        return reasons

    return recheck


def announce_version(store: DatasetStore, version: PublishedVersion) -> None:
    """The committed version's card and its `published` event."""
    try:
        publish_card(store, version)
    except Exception as error:  # the version is committed: a card that failed is re-made with `synthfoundry card`
        get_run_logger().warning(
            "%s %s is published but its card failed (%s); make it with `synthfoundry card %s --version %d --root %s`",
            store.dataset, version.tag, error, store.dataset, version.number, store.root,
        )
    emit_dataset_event("published", store.dataset, {
        "version": version.tag, "number": version.number, "rows_added": version.record["rows"]["added"],
        "root": str(store.root), "path": version.path, "run_id": version.record["run_id"],
    })


def publish_card(store: DatasetStore, version: PublishedVersion) -> None:
    figures = report.evaluate_version(store, version)
    images = report.plots(figures)
    card.write_card(store, version, figures, images)
    key = artifact_key(store.dataset, "dataset-card")
    inline = {name: f"data:image/png;base64,{base64.b64encode(png).decode()}" for name, png in images.items()}
    # the card's tables are in it: the run's own stage and drop-reason tables are not repeated as artifacts
    create_markdown_artifact(
        key=key,
        markdown=card.version_card(figures, inline, store.root, collapsible=False,
                                   storage=store.files.storage).markdown(),
        description=f"{store.dataset} {version.tag}",
    )
