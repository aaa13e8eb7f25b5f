"""The deployments as a user runs them: a real `prefect server`, `prefect deploy` of deployments/prefect.yaml, a
process worker, `python -m deployments.setup`, and runs triggered through the API with a typed config.

One server, worker and alert receiver serve the whole module; the server runs only the services these tests use.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from synthfoundry.dataset import DatasetStore
from synthfoundry.recipes.document_seeds import sample_documents_path, unmark
from tests.fakes.webhook import Webhook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
UNUSED_SERVICES = ["SCHEDULER", "LATE_RUNS", "PAUSE_EXPIRATIONS", "CANCELLATION_CLEANUP", "FOREMAN"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def webhook():
    with Webhook() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def server(tmp_path_factory, webhook):
    """A Prefect server with the project deployed and a worker polling its pool; yields the environment to use."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in UNUSED_SERVICES},
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "SYNTHFOUNDRY_ALERT_WEBHOOK_URL": webhook.url,
    }
    prefect = [sys.executable, "-m", "prefect"]
    logs = open(home / "server.log", "w")
    started = [subprocess.Popen([*prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=logs, stderr=subprocess.STDOUT)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        run = lambda *args: subprocess.run(args, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
        run(*prefect, "work-pool", "create", "synthfoundry", "--type", "process")
        # the worker boots while the deployments are made
        started.append(subprocess.Popen([*prefect, "worker", "start", "--pool", "synthfoundry"],
                                        env=env, cwd=ROOT, stdout=logs, stderr=subprocess.STDOUT))
        run(*prefect, "--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--all")
        print(run(sys.executable, "-m", "deployments.setup").stdout)
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
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} did not finish in {timeout} s")


def eventually(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.5)


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
    # the server receives a run's logs in batches that may land after its final state: wait for them
    logged = lambda: any("batch 1/1" in log["message"]
                         for log in api(server, "POST", "/logs/filter", logs={"flow_run_id": {"any_": [run["id"]]}}))
    eventually(logged)
    assert logged()
    # the published event ran the export deployment through the shipped automation
    exported = root / "exports" / "served" / "v1" / "trl" / "train.jsonl"
    eventually(exported.exists)
    assert exported.read_text().count("\n") == DatasetStore(root, "served").read().height


FIXED_TEXT = ("Oolong tea is partly oxidised: the leaves are bruised, left to wither in the sun, then rolled and "
              "fired. Brewers rinse the leaves once and steep them for short rounds, each round tasting different.")


def test_a_partly_failed_backfill_run_again_finishes_only_what_is_missing(server, tmp_path, fake_openai):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(Path(sample_documents_path()) / "bread-dough.txt", corpus / "bread-dough.txt")
    (corpus / "tea.txt").write_bytes(b"\xff\xfe not utf-8")  # this shard's run fails
    root = tmp_path / "published"
    config = {
        "dataset": "filled",
        "recipe": {"name": "wrap", "styles": ["easy"], "styles_per_passage": 1},
        "teacher": {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url, "max_tokens": 64},
        "filters": [{"name": "diversity", "threshold": 0.99}], "contract": "pretrain",
        "publish": {"root": str(root)},
    }
    parameters = {"config": config, "shards": {"kind": "files", "paths": [str(corpus / "*.txt")]}}

    first = wait(server, trigger(server, "backfill/backfill", parameters), timeout=240)
    assert first["state_type"] == "FAILED"
    assert first["state"]["message"].startswith(f"1 of 2 shards completed; not completed: file-{corpus / 'tea.txt'} ")
    store = DatasetStore(root, "filled")
    documents = lambda: sorted(Path(v.manifest()["config"]["recipe"]["documents"]).name for v in store.versions())
    assert documents() == ["bread-dough.txt"]
    paid = fake_openai.count
    children = lambda: {run["id"]: run for run in api(server, "POST", "/flow_runs/filter",
                                                       flow_runs={"tags": {"all_": ["dataset:filled"]}})}
    before = children()
    assert len(before) == 2

    (corpus / "tea.txt").write_text(FIXED_TEXT)
    again = wait(server, trigger(server, "backfill/backfill", parameters), timeout=180)
    assert again["state_type"] == "COMPLETED", again["state"]
    assert again["state"]["message"] == "2 of 2 shards completed"
    assert documents() == ["bread-dough.txt", "tea.txt"]
    # the same shards are the same child runs: the one that had completed did not run again and paid nothing
    after = children()
    assert after.keys() == before.keys()
    assert sorted(run["run_count"] for run in after.values()) == [1, 2]
    for run_id, run in before.items():
        if run["state_type"] == "COMPLETED":
            assert after[run_id]["end_time"] == run["end_time"]
    resent = [r["body"]["messages"][-1]["content"] for r in fake_openai.requests[paid:]]
    assert resent and all("Oolong tea" in unmark(prompt) for prompt in resent)  # documents reach it datamarked


def test_a_failed_nightly_run_posts_an_alert_to_the_webhook(server, webhook):
    parameters = {"config": None, "config_path": "deployments/configs/missing.yaml"}
    run = wait(server, trigger(server, "generate-dataset/nightly-procedural", parameters))
    assert run["state_type"] == "FAILED"

    eventually(lambda: webhook.posts)
    assert len(webhook.posts) == 1
    alert = webhook.posts[0]
    assert alert["subject"] == f"Synthfoundry: generate-dataset run {run['name']} Failed"
    assert "cannot read the run config" in alert["body"] and run["id"] in alert["body"]
