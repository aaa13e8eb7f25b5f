"""seeds -> query synthesis -> distillation -> filters -> contract -> publish vN.

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
from synthfoundry.recipes import get_recipe
from synthfoundry.manifest import build_manifest, dataset_card
from synthfoundry.stages import combine
from synthfoundry.store import DatasetStore
from tasks.contracts import check_contract, refuse_publication
from tasks.distillation import distill_batch, forecast_distillation
from tasks.filters import filter_diversity
from tasks.publish import publish_version
from tasks.synthesis import synthesize
from tasks.teacher import run_budget, teacher_from_config


@flow(name="generate-dataset", log_prints=True)
def generate_dataset(config_path: str) -> str:
    """Make and publish the next version of the dataset a run config describes; returns the version's data path."""
    config = load_config(config_path)
    run_id = str(flow_run.id or f"local-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
    seed = config.seed if config.seed is not None else random.randrange(2**31)
    store = DatasetStore(config.publish.root, config.dataset)
    recipe = get_recipe(config.recipe.name)
    teacher_config = config.teacher.with_cache_under(config.publish.root)

    synthesis = synthesize(config.recipe, teacher_config, seed)
    stages = [synthesis]
    forecast_usd = None
    if recipe.DISTILL:
        batches = list(synthesis.kept.iter_slices(config.batch_size)) or [synthesis.kept]
        forecast_usd = forecast_distillation(synthesis.kept, teacher_config)["usd"]
        stages.append(combine(distill_batch.map(batches, unmapped(teacher_config)).result()))
    diversity = filter_diversity(stages[-1].kept, config.filters.diversity, store, recipe.EMBED_COLUMN)
    stages.append(diversity)

    rows = diversity.kept.with_columns(
        pl.lit(run_id).alias("run_id"), pl.lit(datetime.now(timezone.utc)).alias("created_at")
    )
    contract = check_contract(rows.drop("vector"), config.contract or getattr(config.recipe, "kind", recipe.KIND))
    ledger = pl.concat([stage.dropped for stage in stages]).with_columns(pl.lit(run_id).alias("run_id"))
    cost = {**run_budget(teacher_config).summary(), "forecast_usd": forecast_usd}
    teacher = teacher_from_config(teacher_config).params() if any(cost["requests"].values()) else None
    manifest = build_manifest(config, run_id, seed, stages, contract.to_dict(), teacher, cost)
    if not contract.success:
        refuse_publication(store, ledger, manifest, contract)
    version = publish_version(store, rows, ledger, manifest)
    print(dataset_card(version.manifest(), version.data_path))
    return str(version.data_path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m flows.generate RUN_CONFIG.yaml")
    generate_dataset(sys.argv[1])
