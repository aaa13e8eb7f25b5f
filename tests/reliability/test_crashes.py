"""SIGKILL of the flow's process group at the end of every stage and between the steps of publish, each followed
by a resume of the same flow run (as a worker would run it again): nothing half-made is visible, a kill after the
commit leaves the version visible and the resume says it already published it, the table holds each id once, the
finished dataset equals an uninterrupted run's (`assert_same_dataset`: equal but for float32 noise in
vector-derived scores), and no request the teacher answered before a kill is paid again.
Each kill point is reached with nothing in flight (one batch per stage), so every request the server saw had its
answer cached: any second sight of one is a request paid twice. The crashed run makes v2, so publish is killed on
top of a published version (the table is appended to, then rolled back)."""

import os
import signal
import time

import pytest

from flows.generate import generate_dataset
from synthfoundry.dataset import DatasetStore
from tests.fakes.provider_server import ProviderServer
from tests.fakes.replies import self_instruct_reply
from tests.reliability.runs import (
    assert_same_dataset,
    body_key,
    create_flow_run,
    run_flow,
    start_flow,
    table_ids,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

FILTERS = [{"name": "diversity"}, {"name": "injection"}]
PUBLISH_POINTS = ["publish-recheck", "publish-shards", "publish-append", "publish-index", "publish-tag",
                  "publish-commit"]
KILL_POINTS = ["synthesis", "distillation", "embedding", "filter-diversity", "filter-injection", "contract",
               *PUBLISH_POINTS]


def test_killed_runs_resume_to_the_uninterrupted_dataset_paying_nothing_twice(tmp_path, record_property):
    with ProviderServer(reply=self_instruct_reply) as server:
        baseline = write_config(tmp_path / "baseline.yaml", tmp_path / "baseline", server.base_url, filters=FILTERS)
        for _ in ("v1", "v2"):
            generate_dataset(config_path=str(baseline))
        expected = DatasetStore(tmp_path / "baseline", "demo").read()

        config = write_config(tmp_path / "run.yaml", tmp_path / "crashed", server.base_url, filters=FILTERS)
        generate_dataset(config_path=str(config))  # v1, uninterrupted; the run making v2 is the one killed
        asked_before = len(server.requests)
        store = DatasetStore(tmp_path / "crashed", "demo")
        run_id = create_flow_run(config)
        deaths = []
        for point in KILL_POINTS:  # each resume is killed at the next point, so it also resumes the one before
            code, output = run_flow(config, kill_at=point, flow_run_id=run_id)
            deaths.append(time.monotonic())
            assert code == -9, f"{point}: {output}"
            committed = point == "publish-commit"
            assert [v.tag for v in store.versions()] == (["v1", "v2"] if committed else ["v1"]), point
        code, output = run_flow(config, flow_run_id=run_id)
        assert code == 0, output
        assert f"run {run_id} already published demo v2" in output

        assert [v.tag for v in store.versions()] == ["v1", "v2"] and store.check() == []
        published = store.read()
        for tag in ("v2", None):  # the tag readers check out, and the table's head
            assert sorted(table_ids(tmp_path / "crashed", tag=tag)) == sorted(published["id"]), tag
        assert published["id"].is_unique().all()
        assert_same_dataset(published, expected)
        twice = answered_then_asked_again(server.requests[asked_before:], deaths)
        record_property("crashes_survived", len(KILL_POINTS))
        record_property("rows_lost", expected.height - published.height)
        record_property("requests_paid_twice", twice)
        assert twice == 0


def answered_then_asked_again(requests: list[dict], deaths: list[float], margin: float = 0.5) -> int:
    """Chat requests asked again although their answer was written well before the run that sent them was killed
    (so it was received and cached). Stages stream, so a kill at a later stage's checkpoint can catch distillation
    requests in flight: those are asked again, as `test_a_kill_mid_fan_out_asks_again_only_what_was_in_flight`
    checks, and are not counted here."""
    first: dict = {}
    twice = 0
    for record in requests:
        if record["path"] != "/v1/chat/completions":
            continue
        key = body_key(record)
        if key not in first:
            first[key] = record
            continue
        earlier = first[key]
        death = min((d for d in deaths if d > earlier["at"]), default=float("inf"))
        twice += earlier.get("answered_at", death) < death - margin
    return twice


def is_distillation(record: dict) -> bool:
    """A distillation request (an instruction to answer), not a Self-Instruct generation prompt."""
    return record["path"] == "/v1/chat/completions" and "Task 1:" not in record["body"]["messages"][-1]["content"]


def test_a_kill_mid_fan_out_asks_again_only_what_was_in_flight(tmp_path, record_property):
    """SIGKILL from outside while the teacher is answering distillation requests: every answer the server finished
    writing before the kill was cached as it arrived, so the resume asks again only the requests in flight."""
    limit, latency = 4, 0.6
    with ProviderServer(reply=self_instruct_reply, latency=latency) as server:
        recipe = {"name": "self_instruct", "target_instructions": 24, "prompts_per_round": 3, "max_rounds": 12,
                  "instances": False}
        teacher = {"provider": "openai", "model": "fake-teacher", "base_url": server.base_url, "max_tokens": 64,
                   "max_retries": 0, "max_in_flight": limit}
        config = write_config(tmp_path / "run.yaml", tmp_path / "root", server.base_url, recipe=recipe, teacher=teacher)
        run_id = create_flow_run(config)
        process = start_flow(config, flow_run_id=run_id)
        killed_at = None
        while process.poll() is None and killed_at is None:
            time.sleep(0.05)
            distilled = [r for r in list(server.requests) if is_distillation(r)]
            answered = [r["answered_at"] for r in distilled if "answered_at" in r]
            # mid fan-out, between two waves of answers: none is half-written at the kill
            if len(answered) >= 2 * limit and server.in_flight == limit and time.monotonic() - max(answered) > latency / 3:
                killed_at = time.monotonic()
                os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
        assert killed_at is not None, "the run ended before its distillation fan-out was reached"

        seen = list(server.requests)
        answered = {body_key(r) for r in seen if r.get("answered_at", killed_at) < killed_at}
        in_flight = {body_key(r) for r in seen} - answered
        code, output = run_flow(config, flow_run_id=run_id)
        assert code == 0, output
        asked_again = {body_key(r) for r in server.requests[len(seen):]} & {body_key(r) for r in seen}
        record_property("crashes_survived", 1)
        record_property("requests_answered_before_kill", len(answered))
        record_property("requests_in_flight_at_kill", len(in_flight))
        record_property("requests_asked_again", len(asked_again))
        record_property("requests_paid_twice", len(asked_again & answered))
        assert 0 < len(in_flight) <= limit
        assert not asked_again & answered
        assert asked_again == in_flight
        assert [v.tag for v in DatasetStore(tmp_path / "root", "demo").versions()] == ["v1"]
