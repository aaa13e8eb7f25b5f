"""seeds -> query synthesis -> distillation -> embed -> filters (in the config's order) -> contract -> publish vN.

Run it: `python -m flows.generate deployments/configs/quickstart.yaml`
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timezone

import polars as pl
from prefect import flow, unmapped
from prefect.runtime import flow_run

from synthfoundry.config import load_config
from synthfoundry.filters import get_filter
from synthfoundry.manifest import build_manifest, dataset_card
from synthfoundry.recipes import get_recipe
from synthfoundry.records import to_published
from synthfoundry.stages import combine
from synthfoundry.store import DatasetStore
from tasks.contracts import check_contract, refuse_publication
from tasks.distillation import distill_batch, forecast_distillation
from tasks.filters import embed_rows, run_filter
from tasks.publish import publish_version
from tasks.synthesis import synthesize


def batches(frame: pl.DataFrame, size: int) -> list[pl.DataFrame]:
    return list(frame.iter_slices(size)) or [frame]


@flow(name="generate-dataset", log_prints=True)
def generate_dataset(config_path: str) -> str:
    """Make and publish the next version of the dataset a run config describes; returns the version's folder."""
    config = load_config(config_path)
    run_id = str(flow_run.id or f"local-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
    seed = config.seed if config.seed is not None else random.randrange(2**31)
    store = DatasetStore(config.publish.root, config.dataset)
    recipe = get_recipe(config.recipe.name)
    teacher = config.teacher.with_cache_under(config.publish.root)

    stages = [synthesize(config.recipe, teacher, seed)]
    forecast_usd = None
    if recipe.DISTILL:
        forecast_usd = forecast_distillation(stages[-1].kept, teacher)["usd"]
        stages.append(combine(distill_batch.map(batches(stages[-1].kept, config.batch_size), unmapped(teacher)).result()))
    rows = embed_rows(stages[-1].kept, recipe.EMBED_COLUMN, config.embedding)
    for step in config.filters:
        judge = run_filter.with_options(task_run_name=f"filter-{step.name}")
        tools = (unmapped(step), unmapped(teacher), unmapped(store), unmapped(config.embedding),
                 unmapped(recipe.EMBED_COLUMN), unmapped(seed))
        parts = [rows] if get_filter(step.name).COMPARES_ROWS else batches(rows, config.batch_size)
        stages.append(combine(judge.map(parts, *tools).result()))
        rows = stages[-1].kept

    rows = to_published(rows.with_columns(
        pl.lit(run_id).alias("run_id"), pl.lit(datetime.now(timezone.utc)).alias("created_at")
    ))
    contract = check_contract(rows.drop("vector"), config.contract_suite)
    ledger = pl.concat([stage.dropped for stage in stages]).with_columns(pl.lit(run_id).alias("run_id"))
    manifest = build_manifest(config, run_id, seed, stages, contract.to_dict(), forecast_usd)
    if not contract.success:
        refuse_publication(store, ledger, manifest, contract)
    threshold = next((step.threshold for step in config.filters if step.name == "diversity"), None)
    version = publish_version(store, rows, ledger, manifest, threshold)
    print(dataset_card(version.manifest(), store.root))
    return version.path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m flows.generate RUN_CONFIG.yaml")
    generate_dataset(sys.argv[1])
