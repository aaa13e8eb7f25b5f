"""Backfill tasks: start one child run of the generate deployment per shard, keyed so that asking again never
duplicates a run, and wait for them all.

A child that already finished is left alone; one that failed, crashed or was cancelled is scheduled again (the same
flow run, as the UI's Retry does), so a re-run backfill finishes only what is missing. Requests the failed attempt
paid for are answered by the request cache.
"""

from __future__ import annotations

import time
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment
from prefect.states import Scheduled

from synthfoundry.backfill import Shard
from tasks.monitor import artifact_key
from tasks.runs import SHARD_TAG

PAGE = 200  # the most runs the API returns at once


@task(retries=2, retry_delay_seconds=5)
def launch_shard(deployment: str, shard: Shard) -> UUID:
    run = run_deployment(
        deployment,
        parameters={"config": shard.config.model_dump(mode="json")},
        idempotency_key=shard.key,
        timeout=0,
        tags=[f"{SHARD_TAG}{shard.name}"],
    )
    logger = get_run_logger()
    if run.state is not None and run.state.is_final() and not run.state.is_completed():
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run.id, Scheduled(message="re-run by its backfill"), force=True)
        logger.info("shard %s: run %s was %s; scheduled again", shard.name, run.name, run.state.name)
    elif run.state is not None and run.state.is_completed():
        logger.info("shard %s: already done by run %s", shard.name, run.name)
    return run.id


@task
def wait_for_shards(dataset: str, shards: list[Shard], run_ids: list[UUID], poll_s: float = 2) -> list[dict]:
    """Poll the child runs (a request per 200 of them) until each is final; a table artifact lists each shard's
    run, state and message."""
    with get_client(sync_client=True) as client:
        while True:
            found = {}
            for start in range(0, len(run_ids), PAGE):
                page = run_ids[start:start + PAGE]
                ids = FlowRunFilter(id=FlowRunFilterId(any_=page))
                found.update({run.id: run for run in client.read_flow_runs(flow_run_filter=ids, limit=len(page))})
            runs = [found[run_id] for run_id in run_ids]
            if all(run.state is not None and run.state.is_final() for run in runs):
                break
            time.sleep(poll_s)
    table = [
        {"shard": shard.name, "run": run.name, "state": run.state.name, "message": run.state.message or ""}
        for shard, run in zip(shards, runs)
    ]
    create_table_artifact(table, key=artifact_key(dataset, "backfill"), description=f"{dataset}: backfill shards")
    return table
