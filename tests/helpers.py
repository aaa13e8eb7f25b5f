"""Shared test helpers: run the real flow on a config, and check the ledger accounts for every row."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
