"""Rows, ledgers and manifests for the dataset tests (random unit vectors, ids as given), the diversity rule a publish
re-checks with, and a publisher in a child process for the concurrency tests."""

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from synthfoundry.filters import diversity

WORKTREE = Path(__file__).resolve().parents[2]


def rows(ids, dims=8, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(len(ids), dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return pl.DataFrame({"id": ids, "instruction": [f"do {i}" for i in ids]}).with_columns(
        pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, dims))
    )


LEDGER = pl.DataFrame({"id": ["x"], "stage": ["diversity"], "reason": ["near duplicate"]})


def manifest(run_id):
    return {"run_id": run_id, "stages": {}}


def table_ids(root, dataset="ds", version=None):
    import lancedb

    table = lancedb.connect(str(Path(root) / "lancedb")).open_table(dataset)
    if version is not None:
        table.checkout(version)
    return table.to_arrow().column("id").to_pylist()


COSINE_RECHECK = partial(diversity.recheck, config=diversity.Config(threshold=0.9, word_overlap=None),
                         text_column="instruction")


PUBLISH_CHILD = """
import sys, polars as pl
from tests.dataset.published import COSINE_RECHECK
from synthfoundry.dataset import DatasetStore
root, run_id, batch = sys.argv[1:4]
frame = pl.read_parquet(batch)
ledger = pl.DataFrame({"id": ["x"], "stage": ["diversity"], "reason": ["near duplicate"]})
try:
    version = DatasetStore(root, "ds").publish(frame, ledger, {"run_id": run_id, "stages": {}}, COSINE_RECHECK)
    print(version.tag)
except Exception as error:
    print(type(error).__name__, error)
"""


def publish_in_child(root, run_id, batch: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    command = [sys.executable, "-c", PUBLISH_CHILD, str(root), run_id, str(batch)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
