"""Backfill: one base run config over shards (seeds, document files, dates, teacher models), each shard a child
run of the generate deployment. Asking for the same backfill again adds nothing and pays for nothing twice;
re-running a partly failed one finishes only the shards that did not complete.
"""

from __future__ import annotations

from prefect import flow, unmapped
from prefect.states import Completed, State

from synthfoundry.backfill import Shards, expand
from synthfoundry.config import RunConfig
from tasks.backfill import launch_shard, wait_for_shards
from tasks.failures import BackfillIncomplete, failed, quiet_run_end
from tasks.runs import backfill_name


@flow(name="backfill", flow_run_name=backfill_name)
def backfill(config: RunConfig, shards: Shards, deployment: str = "generate-dataset/on-demand") -> State:
    """Run `config` once per shard through `deployment`; Completed when every shard is."""
    quiet_run_end()
    children = expand(config, shards)
    run_ids = launch_shard.map(unmapped(deployment), children).result()
    table = wait_for_shards(config.dataset, children, run_ids)
    unfinished = [row["shard"] for row in table if row["state"] != "Completed"]
    summary = f"{len(table) - len(unfinished)} of {len(table)} shards completed"
    if unfinished:
        return failed(BackfillIncomplete(
            f"{summary}; not completed: {', '.join(unfinished)} (run the backfill again to finish them)"
        ))
    return Completed(message=summary)
