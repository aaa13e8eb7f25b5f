"""The deployments as a user runs them: a real `prefect server`, `prefect deploy` of deployments/prefect.yaml, a
process worker, `python -m deployments.setup`, and runs triggered through the API with a typed config."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from synthfoundry.store import DatasetStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Prefect server with the project deployed and a worker polling its pool; yields the environment to use."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PYTHONPATH": str(ROOT),
    }
    prefect = [sys.executable, "-m", "prefect"]
    logs = open(home / "server.log", "w")
    started = [subprocess.Popen([*prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=logs, stderr=subprocess.STDOUT)]
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        run = lambda *args: subprocess.run(args, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
        run(*prefect, "work-pool", "create", "synthfoundry", "--type", "process")
        run(*prefect, "--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--all")
        print(run(sys.executable, "-m", "deployments.setup").stdout)
        started.append(subprocess.Popen([*prefect, "worker", "start", "--pool", "synthfoundry"],
                                        env=env, cwd=ROOT, stdout=logs, stderr=subprocess.STDOUT))
        yield env
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=30)


def api(env: dict, method: str, path: str, **body) -> object:
    for attempt in range(5):  # a busy server's SQLite answers 503 for a moment; Prefect's own client retries too
        response = httpx.request(method, f"{env['PREFECT_API_URL']}{path}", json=body or None, timeout=30)
        if response.status_code != 503:
            break
        time.sleep(2 * (attempt + 1))
    response.raise_for_status()
    return response.json()


def trigger(env: dict, deployment: str, parameters: dict) -> str:
    found = api(env, "GET", f"/deployments/name/{deployment}")
    return api(env, "POST", f"/deployments/{found['id']}/create_flow_run", parameters=parameters)["id"]


def wait(env: dict, run_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api(env, "GET", f"/flow_runs/{run_id}")
        if run["state_type"] in FINAL:
            return run
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} did not finish in {timeout} s")


def procedural(root: Path, dataset: str, tasks: int = 10) -> dict:
    return {
        "dataset": dataset, "seed": 7,
        "recipe": {"name": "procedural", "datasets": {"basic_arithmetic": tasks}},
        "filters": [{"name": "diversity", "threshold": 0.99}], "contract": "rlvr",
        "publish": {"root": str(root)},
    }


def test_a_typed_run_through_the_api_publishes_with_its_artifacts_and_is_exported(server, tmp_path):
    root = tmp_path / "published"
    run = wait(server, trigger(server, "generate-dataset/on-demand", {"config": procedural(root, "served")}))

    assert run["state_type"] == "COMPLETED", run["state"]
    assert run["name"].startswith("served-procedural-") and "dataset:served" in run["tags"]
    keys = {a["key"] for a in api(server, "POST", "/artifacts/filter",
                                  artifacts={"flow_run_id": {"any_": [run["id"]]}})}
    assert {"served-dataset-card", "served-stages", "served-drop-reasons", "served-embedding-progress",
            "served-diversity-progress", "served-run-config"} <= keys
    assert [v.tag for v in DatasetStore(root, "served").versions()] == ["v1"]
    # the project's logs reach the UI (the recipe logs through the run logger, the setup through `synthfoundry`)
    logs = api(server, "POST", "/logs/filter", logs={"flow_run_id": {"any_": [run["id"]]}})
    assert any("batch 1/1" in log["message"] for log in logs)
    # the published event ran the export deployment through the shipped automation
    exported = root / "exports" / "served" / "v1" / "trl" / "train.jsonl"
    deadline = time.monotonic() + 60
    while not exported.exists() and time.monotonic() < deadline:
        time.sleep(1)
    assert exported.read_text().count("\n") == DatasetStore(root, "served").read().height


def test_backfill_runs_each_shard_once_and_a_rerun_adds_nothing(server, tmp_path):
    root = tmp_path / "published"
    parameters = {"config": procedural(root, "filled", tasks=6), "shards": {"kind": "seeds", "seeds": [1, 2]}}
    first = wait(server, trigger(server, "backfill/backfill", parameters), timeout=240)
    assert first["state_type"] == "COMPLETED", first["state"]
    assert first["state"]["message"] == "2 of 2 shards completed"
    store = DatasetStore(root, "filled")
    assert [v.tag for v in store.versions()] == ["v1", "v2"]
    assert sorted(v.manifest()["config"]["seed"] for v in store.versions()) == [1, 2]

    again = wait(server, trigger(server, "backfill/backfill", parameters), timeout=120)
    assert again["state_type"] == "COMPLETED"
    children = api(server, "POST", "/flow_runs/filter",
                   flow_runs={"tags": {"all_": ["dataset:filled"]}})
    assert len(children) == 2  # the same shards map to the same child runs: nothing ran twice
    assert [v.tag for v in store.versions()] == ["v1", "v2"]
