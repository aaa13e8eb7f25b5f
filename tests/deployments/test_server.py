"""The deployments as a user runs them: a real `prefect server`, `prefect deploy` of deployments/prefect.yaml, a
process worker, `python -m deployments.setup`, and runs triggered through the API with a typed config.

One server, worker and alert receiver serve the whole module; the server runs only the services these tests use.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
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
        started.append(subprocess.Popen([*prefect, "worker", "start", "--pool", "synthfoundry", "--work-queue", "default"],
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


def run_logs(env: dict, run_id: str) -> list[str]:
    """The run's log messages, oldest first, once the engine's last line has reached the server (logs arrive in
    batches that may land after the final state)."""
    read = lambda: api(env, "POST", "/logs/filter", sort="TIMESTAMP_ASC", logs={"flow_run_id": {"any_": [run_id]}})
    ended = lambda: any(log["message"].startswith("Finished in state") and not log["task_run_id"] for log in read())
    eventually(ended)
    return [log["message"] for log in read()]


def assert_one_clear_message(env: dict, run: dict) -> None:
    """A run that failed on purpose logs its message once, with no traceback, and ends on it."""
    message = run["state"]["message"]
    logs = run_logs(env, run["id"])
    assert logs.count(message) == 1, logs
    assert logs[logs.index(message) + 1:] == ["Finished in state Failed"]
    assert not [line for line in logs if "Traceback" in line or "unexpected exception" in line or "\\n" in line]


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
    assert_one_clear_message(server, first)
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
    date = first["expected_start_time"][:10]
    assert {run["name"] for run in after.values()} == {  # children named by their shard
        f"filled-wrap-{date} file-{corpus / name}" for name in ("bread-dough.txt", "tea.txt")
    }
    assert sorted(run["run_count"] for run in after.values()) == [1, 2]
    for run_id, run in before.items():
        if run["state_type"] == "COMPLETED":
            assert after[run_id]["end_time"] == run["end_time"]
    resent = [r["body"]["messages"][-1]["content"] for r in fake_openai.requests[paid:]]
    assert resent and all("Oolong tea" in unmark(prompt) for prompt in resent)  # documents reach it datamarked


def test_a_failed_nightly_run_posts_an_alert_naming_the_deployment_run_and_field(server, webhook, tmp_path):
    bad = tmp_path / "nightly.yaml"
    bad.write_text((ROOT / "deployments/configs/procedural.yaml").read_text().replace("seed: 1234", "seed: many"))
    run = wait(server, trigger(server, "generate-dataset/nightly-procedural", {"config": None, "config_path": str(bad)}))
    assert run["state_type"] == "FAILED"

    assert_one_clear_message(server, run)

    eventually(lambda: webhook.posts)
    assert len(webhook.posts) == 1
    alert = webhook.posts[0]
    assert alert["subject"] == f"Synthfoundry: generate-dataset/nightly-procedural run {run['name']} Failed"
    assert f"{bad}: 1 problem(s) in the run config" in alert["body"]
    assert "- seed: Input should be a valid integer" in alert["body"] and run["id"] in alert["body"]


def test_the_run_form_offers_each_recipe_and_filter_and_leaves_the_contract_to_the_recipe(server):
    from synthfoundry.filters import FILTERS
    from synthfoundry.recipes import RECIPES

    deployment = api(server, "GET", "/deployments/name/generate-dataset/on-demand")
    schema = deployment["parameter_openapi_schema"]
    definitions = schema["definitions"]
    fields = definitions["RunConfig"]["properties"]
    titles = lambda variants: [definitions[v["$ref"].rsplit("/", 1)[1]]["title"] for v in variants]
    assert titles(fields["recipe"]["anyOf"]) == list(RECIPES)
    assert titles(fields["filters"]["anyOf"][0]["items"]["anyOf"]) == list(FILTERS)
    assert "oneOf" not in str(schema)
    # the form's default config names a recipe but no contract or filters: another recipe picked gets its own
    assert {"contract", "filters"}.isdisjoint(deployment["parameters"]["config"])


def test_a_contract_that_does_not_fit_the_recipe_fails_the_run_before_anything_is_sent(server, tmp_path, fake_openai):
    config = {
        "dataset": "misfit", "recipe": {"name": "self_instruct", "target_instructions": 4}, "contract": "rlvr",
        "teacher": {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url},
        "publish": {"root": str(tmp_path / "published")},
    }
    run = wait(server, trigger(server, "generate-dataset/on-demand", {"config": config}))

    assert run["state_type"] == "FAILED"
    assert run["state"]["message"].startswith("the run was not started: 1 problem(s), nothing was sent or published\n"
                                              "  - contract: suite 'rlvr' requires answer, verifier on every row")
    assert_one_clear_message(server, run)
    assert fake_openai.count == 0 and DatasetStore(tmp_path / "published", "misfit").latest() is None


def test_a_nightly_run_says_what_ran_shows_its_progress_and_dates_its_version(server, tmp_path, fake_openai):
    root = tmp_path / "published"
    config = {
        "dataset": "nightly-si", "seed": 3,
        "recipe": {"name": "self_instruct", "target_instructions": 6, "prompts_per_round": 3, "max_rounds": 6},
        "teacher": {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url, "max_tokens": 64},
        "filters": [{"name": "diversity", "threshold": 0.99}], "publish": {"root": str(root)},
    }
    run = wait(server, trigger(server, "generate-dataset/nightly-procedural", {"config": config, "config_path": None}))

    store = DatasetStore(root, "nightly-si")
    added = store.latest().record["rows"]["added"]
    assert run["state_type"] == "COMPLETED" and run["state"]["message"] == f"published v1: +{added} rows, $0.00"
    date = run["expected_start_time"][:10]
    assert run["name"] == f"nightly-si-self_instruct-{date}"
    assert {"dataset:nightly-si", "recipe:self_instruct", "teacher:openai:fake-teacher", "nightly"} == set(run["tags"])
    assert store.tags()[f"nightly-{date}"] == 1
    artifacts = {a["key"]: a for a in api(server, "POST", "/artifacts/filter",
                                          artifacts={"flow_run_id": {"any_": [run["id"]]}})}
    progress = [f"nightly-si-{stage}-progress" for stage in
                ("synthesis", "distillation", "embedding", "diversity")]
    assert sorted(artifacts) == sorted([  # one card, one stage table, one ledger summary, progress per stage
        "nightly-si-run-config", "nightly-si-forecast", "nightly-si-stages", "nightly-si-drop-reasons",
        "nightly-si-data-contract", "nightly-si-dataset-card", *progress,
    ])
    assert all(artifacts[key]["data"] == 100 for key in progress)
    # distillation ran in batches of a tenth of its rows, so its progress moved in steps
    done = re.search(r"(\d+) rows done in (\d+) of \2 batches", artifacts["nightly-si-distillation-progress"]["description"])
    rows, batches = int(done[1]), int(done[2])
    assert rows >= 6 and batches == math.ceil(rows / math.ceil(rows / 10)) > 1
    logs = run_logs(server, run["id"])
    assert not [line for line in logs if "max_in_flight" in line]  # the resolved config is an artifact, not logs
    assert "making nightly-si with recipe self_instruct, filters diversity, contract sft" in "\n".join(logs)


def test_a_run_whose_worker_is_killed_from_outside_ends_crashed(server, tmp_path, fake_openai):
    """A worker and its run's process killed at once (a machine or container gone: no hook runs, no final state is
    sent) leave the run Running; its heartbeats stop, and the shipped automation marks it Crashed."""
    fake_openai.latency = 600  # the run waits on its first request, in the middle of synthesis
    api(server, "POST", "/work_pools/synthfoundry/queues", name="doomed")
    worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", "synthfoundry",
                               "--work-queue", "doomed"], env=server, cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        config = {
            "dataset": "doomed", "recipe": {"name": "self_instruct", "target_instructions": 4},
            "teacher": {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url},
            "filters": [{"name": "diversity"}], "publish": {"root": str(tmp_path / "published")},
        }
        deployment = api(server, "GET", "/deployments/name/generate-dataset/on-demand")
        run_id = api(server, "POST", f"/deployments/{deployment['id']}/create_flow_run",
                     parameters={"config": config}, work_queue_name="doomed")["id"]
        eventually(lambda: fake_openai.count > 0, timeout=120)
        running = api(server, "GET", f"/flow_runs/{run_id}")
        assert running["state_type"] == "RUNNING"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    os.kill(int(running["infrastructure_pid"].rsplit(":", 1)[-1]), signal.SIGKILL)  # the run's process: a session of its own
    time.sleep(5)
    assert api(server, "GET", f"/flow_runs/{run_id}")["state_type"] == "RUNNING"  # nobody told the server

    run = wait(server, run_id, timeout=240)  # 90 s after the last heartbeat (they come every 30 s)
    assert run["state_type"] == "CRASHED"
    assert run["state"]["message"].startswith("no heartbeat for 90 s: the run's process was killed")
