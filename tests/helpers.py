"""Shared test helpers: run the real flow on a config, and check the ledger accounts for every row."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import polars as pl
import yaml


@dataclass(frozen=True)
class Published:
    data: pl.DataFrame
    manifest: dict
    ledger: pl.DataFrame


def run_recipe(tmp_path: Path, recipe: dict, teacher: dict | None = None, seed: int = 1, **overrides) -> Published:
    """Write a run config and run `generate-dataset` on it (needs the `prefect_harness` fixture)."""
    from flows.generate import generate_dataset

    config = {
        "dataset": overrides.pop("dataset", "test"),
        "seed": seed,
        "recipe": recipe,
        "teacher": teacher or {"provider": "local", "max_tokens": 96, "drop_truncated": False},
        "publish": {"root": str(tmp_path / "published")},
        **overrides,
    }
    path = tmp_path / f"run-{seed}.yaml"
    path.write_text(yaml.safe_dump(config))
    return read_published(Path(generate_dataset(config_path=str(path))))


def read_published(folder: Path) -> Published:
    """A published version's data, manifest and ledger, from its folder (exports/<dataset>/vN)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return Published(
        pl.read_parquet([folder.parent / shard for shard in manifest["shards"]]),
        manifest,
        pl.read_parquet(folder / "rejections.parquet"),
    )


def assert_accounted(published: Published) -> None:
    """rows in = rows kept + rows in the ledger, at every stage, and each stage feeds the next (distillation
    answers each prompt teacher.n times)."""
    stages = published.manifest["stages"]
    for name, counts in stages.items():
        assert counts["in"] == counts["kept"] + counts["dropped"], name
        assert published.ledger.filter(pl.col("stage") == name).height == counts["dropped"], name
    order = list(stages)
    samples = published.manifest["config"]["teacher"]["n"]
    for before, after in zip(order, order[1:]):
        fan_out = samples if after == "distillation" else 1
        assert stages[after]["in"] == stages[before]["kept"] * fan_out, (before, after)
    assert published.manifest["rows"]["added"] == stages[order[-1]]["kept"]
    assert published.manifest["rows"]["total"] == published.data.height


def sample_corpus(folder: Path, *names: str) -> Path:
    """Some of the shipped sample documents plus one unreadable file: a corpus for document-seeded recipe runs."""
    import shutil

    from synthfoundry.recipes.document_seeds import sample_documents_path

    folder.mkdir()
    for name in names:
        shutil.copy(Path(sample_documents_path()) / name, folder / name)
    (folder / "broken.html").write_bytes(b"\xff\xfe not utf-8")
    return folder


_WORDS = (
    "prime gradient river poem budget orbit sonnet ledger protein tensor glacier recipe violin theorem "
    "harvest circuit parable enzyme compiler monsoon mosaic quartz sparrow tariff"
).split()


def published_rows(count: int, seed: int = 0, run_id: str = "run-1", dims: int = 384, **columns) -> pl.DataFrame:
    """`count` rows as the flow publishes them (`to_published`: every PUBLISHED_SCHEMA column, here a diversity
    score in `decisions` and random unit `vector`s); keyword arguments add or replace columns with per-row lists."""
    from datetime import datetime

    import numpy as np

    from synthfoundry.records import content_id, rows_frame, to_published, with_decision

    rng = np.random.default_rng(seed)
    picks = rng.choice(_WORDS, size=(count, 3))
    rows = rows_frame([
        {
            "id": content_id(seed, index),
            "recipe": "self_instruct",
            "recipe_version": "1",
            "template_hash": "t" * 16,
            "seed_ids": [f"seed-{index % 7}"],
            "instruction": f"Write about {a} and {b} ({seed}.{index})",
            "input": "" if index % 2 else f"context {c}",
            "response": f"The {a} meets the {c}; " * (1 + index % 4),
            "reasoning": f"think about {b}" if index % 3 == 0 else None,
            "teacher_provider": "local",
            "teacher_model": "SmolLM2-135M-Instruct",
            "teacher_params": "{}",
            "prompt_tokens": 20 + index,
            "completion_tokens": 10 + index % 5,
            "finish_reason": "stop",
            "cost_usd": 0.0,
        }
        for index, (a, b, c) in enumerate(picks)
    ])
    rows = with_decision(rows, "diversity", pl.Series(rng.uniform(0.2, 0.8, count)))
    vectors = rng.normal(size=(count, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = to_published(rows.with_columns(
        pl.lit(run_id).alias("run_id"),
        pl.lit(datetime(2026, 12, 1, tzinfo=UTC)).alias("created_at"),
        pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, dims)),
    ))
    return rows.with_columns(pl.Series(name, values) for name, values in columns.items())


def publish_rows(root: Path, dataset: str, rows: pl.DataFrame, ledger: pl.DataFrame | None = None, suite: str = "sft"):
    """Publish `rows` as the next version with the real DatasetStore and a manifest made by `build_manifest`."""
    from synthfoundry.dataset import DatasetStore
    from synthfoundry.stages import LEDGER_SCHEMA

    ledger = ledger if ledger is not None else pl.DataFrame(schema=LEDGER_SCHEMA)
    manifest = manifest_for(root, dataset, rows, ledger, suite)
    return DatasetStore(root, dataset).publish(rows, ledger.with_columns(pl.lit(manifest["run_id"]).alias("run_id")), manifest)


def manifest_for(root: Path, dataset: str, rows: pl.DataFrame, ledger: pl.DataFrame, suite: str = "sft") -> dict:
    """A run's manifest as `build_manifest` makes it: a self_instruct config, the ledger's stages, some spend."""
    from synthfoundry.config import parse_config
    from synthfoundry.manifest import build_manifest
    from synthfoundry.spend import Spend
    from synthfoundry.stages import StageResult

    run_id = rows["run_id"][0]
    config = parse_config({"dataset": dataset, "recipe": {"name": "self_instruct"}, "publish": {"root": str(root)}})
    stage_names = list(dict.fromkeys(["synthesis", "distillation", *ledger["stage"].to_list(), "diversity"]))
    spend = Spend(spent_usd=0.0125, sent=rows.height, cached=2, prompt_tokens=900, completion_tokens=400)
    stages = [
        StageResult(name, rows, ledger.filter(pl.col("stage") == name), spend if name == "distillation" else Spend())
        for name in stage_names
    ]
    contract = {"suite": suite, "success": True, "evaluated": 7, "rows": rows.height, "failures": []}
    return build_manifest(config, run_id, 1, stages, contract, forecast_usd=0.02)


def report_ledger() -> pl.DataFrame:
    """A ledger with a reason of each kind the report groups: diversity (numbers), judge (scores), decontamination
    (benchmarks)."""
    from synthfoundry.stages import LEDGER_SCHEMA

    entries = [
        ("diversity", "cosine 0.934 > 0.9 to a row kept earlier", 0.934),
        ("diversity", "cosine 0.951 > 0.9 to a published row", 0.951),
        ("diversity", "cosine 0.97 > 0.9 to a row kept earlier", 0.97),
        ("quality_judge", "judge score 2 < 4", 2.0),
        ("quality_judge", "judge score 1 < 4", 1.0),
        ("quality_judge", "judge score unparseable", None),
        ("decontamination", 'gsm8k: instruction shares 13 of 20 13-grams with test.jsonl:812, e.g. "a b c"', 1.0),
        ("decontamination", 'gsm8k: response shares 15 of 40 13-grams with test.jsonl:5, e.g. "d e f"', 1.0),
        ("decontamination", "math500: instruction is close to item 3 (cosine 0.971 >= 0.95)", None),
    ]
    rows = [{"id": f"x{i}", "stage": stage, "reason": reason, "score": score, "text": f"text {i}"}
            for i, (stage, reason, score) in enumerate(entries)]
    return pl.DataFrame(rows, schema=LEDGER_SCHEMA)


def two_versions(root):
    """A store with v1 (20 rows) and v2 (+10 rows judged 4 or 5, with `report_ledger()` and a policy pass rate); both
    with clusters."""
    from synthfoundry.dataset import DatasetStore
    from synthfoundry.records import with_decision

    publish_rows(root, "ds", published_rows(20, seed=1, run_id="run-1", cluster=[0, 1] * 10))
    second = published_rows(10, seed=2, run_id="run-2")
    second = with_decision(second, "quality_judge", pl.Series([4.0] * 6 + [5.0] * 4)).with_columns(
        pl.Series("pass_rate", [0.25, 0.5] * 5), pl.Series("agreement", [1.0] * 10), pl.Series("cluster", [0, 1] * 5)
    )
    publish_rows(root, "ds", second, report_ledger())
    return DatasetStore(root, "ds")
