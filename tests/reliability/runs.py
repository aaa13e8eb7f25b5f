"""Run the real flow in its own process group, against the loopback fake teacher, for the reliability suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from tasks.crashes import KILL_AT

ROOT = Path(__file__).resolve().parents[2]
RECIPE = {"name": "self_instruct", "target_instructions": 6, "prompts_per_round": 3, "max_rounds": 6}


def write_config(path: Path, root: Path, base_url: str, **overrides) -> Path:
    config = {
        "dataset": "demo",
        "seed": 7,
        "recipe": RECIPE,
        "teacher": {"provider": "openai", "model": "fake-teacher", "base_url": base_url, "max_tokens": 64,
                    "max_retries": 0},
        "publish": {"root": str(root)},
        "filters": [{"name": "diversity"}],  # the fake's answers are not for judging
        **overrides,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def create_flow_run(config: Path) -> str:
    """A flow run of `config` that `start_flow(..., flow_run_id=...)` executes, as a worker would; executed again
    after a crash, it resumes (same run id, same seed)."""
    from prefect.client.orchestration import get_client

    from flows.generate import generate_dataset

    with get_client(sync_client=True) as client:
        return str(client.create_flow_run(generate_dataset, parameters={"config_path": str(config)}).id)


def start_flow(config: Path, kill_at: str | None = None, flow_run_id: str | None = None) -> subprocess.Popen:
    """The flow in a new process group, talking to the test session's Prefect API (`prefect_harness`): a new run
    (`python -m flows.generate`), or the existing run `flow_run_id` (Prefect's engine entrypoint, as workers do)."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop(KILL_AT, None)
    if kill_at:
        env[KILL_AT] = kill_at
    command = [sys.executable, "-m", "flows.generate", str(config)]
    if flow_run_id:
        env["PREFECT__FLOW_RUN_ID"] = flow_run_id
        command = [sys.executable, "-m", "prefect.flow_engine", "flows/generate.py:generate_dataset"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def run_flow(config: Path, kill_at: str | None = None, flow_run_id: str | None = None) -> tuple[int, str]:
    process = start_flow(config, kill_at, flow_run_id)
    output, _ = process.communicate(timeout=600)
    return process.returncode, output


def run_logs(flow_run_id: str) -> list[str]:
    """Every log line of a flow run and its task runs, as the Prefect API keeps them (what the UI shows)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)])), limit=200)
    return [log.message for log in logs]


def body_key(request: dict) -> str:
    """What makes two requests the same request (the cache's view): the body."""
    return json.dumps(request["body"], sort_keys=True)


def paid_twice(requests: list[dict]) -> int:
    """Chat requests the server answered more than once (the same body asked again)."""
    bodies = [body_key(r) for r in requests if r["path"] == "/v1/chat/completions"]
    return len(bodies) - len(set(bodies))


def table_ids(root: Path, dataset: str = "demo", tag: str | None = None) -> list[str]:
    """The ids in the dataset's LanceDB table, at its head or at a tag."""
    import lancedb

    table = lancedb.connect(str(root / "lancedb")).open_table(dataset)
    if tag is not None:
        table.checkout(tag)
    return table.to_arrow().column("id").to_pylist()


# MiniLM's float32 vectors depend on the batch a text was embedded in (padding to the batch's longest text changes
# the summation order): the same text embeds up to ~1e-7 apart per component, and cosines up to ~1e-6 apart, between
# runs that batch it differently. Scores derived from vectors are therefore equal within this tolerance, not bitwise.
EMBEDDING_TOLERANCE = 1e-5


def assert_same_dataset(actual: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Two runs of one config made the same dataset: the same ids, texts, lineage and keep/drop decisions (every
    column equal, the stages in each row's `decisions` trail equal), with vectors and the filters' scores equal
    within EMBEDDING_TOLERANCE. Run ids and timestamps differ between runs by design."""
    actual, expected = (
        frame.drop("run_id", "created_at", strict=False).sort("id") for frame in (actual, expected)
    )
    assert actual.columns == expected.columns
    exact = [column for column in expected.columns if column not in ("vector", "decisions")]
    assert actual.select(exact).equals(expected.select(exact))
    stages = [[d["stage"] for d in row] for row in actual["decisions"].to_list()]
    assert stages == [[d["stage"] for d in row] for row in expected["decisions"].to_list()]
    floats = {"decisions": lambda frame: [[d["score"] for d in row] for row in frame["decisions"]]}
    if "vector" in expected.columns:  # the LanceDB table has them; the Parquet shards do not
        floats["vector"] = lambda frame: frame["vector"].to_list()
    for column, values in floats.items():
        got, want = _floats(values(actual)), _floats(values(expected))
        assert got.shape == want.shape, column
        assert np.allclose(got, want, rtol=0, atol=EMBEDDING_TOLERANCE, equal_nan=True), (
            f"{column} differ by up to {np.nanmax(np.abs(got - want)):.2e} > {EMBEDDING_TOLERANCE}")


def _floats(nested: list) -> np.ndarray:
    """A ragged list of float lists (None for a score a filter did not give) as one flat float64 array."""
    return np.array([np.nan if x is None else x for row in nested for x in row], dtype=np.float64)
