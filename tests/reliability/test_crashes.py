"""SIGKILL of the flow's process group across synthesis, distillation, filters and the contract, each followed by
a re-run: nothing half-made is visible, the finished dataset equals an uninterrupted run's, and no request the
teacher answered before a kill is paid again. Each kill point is reached with nothing in flight (one batch per
stage), so every request the server saw had its answer cached: any second sight of one is a request paid twice."""

import pytest

from flows.generate import generate_dataset
from synthfoundry.store import DatasetStore
from tests.fakes.provider_server import ProviderServer
from tests.fakes.replies import self_instruct_reply
from tests.reliability.runs import content, paid_twice, run_flow, write_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

KILL_POINTS = ["synthesis", "distillation", "filter-diversity", "contract"]


def test_killed_runs_resume_to_the_uninterrupted_dataset_paying_nothing_twice(tmp_path, record_property):
    with ProviderServer(reply=self_instruct_reply) as server:
        generate_dataset(config_path=str(write_config(tmp_path / "baseline.yaml", tmp_path / "baseline", server.base_url)))
        expected = content(DatasetStore(tmp_path / "baseline", "demo").read())
        asked_before = len(server.requests)

        config = write_config(tmp_path / "run.yaml", tmp_path / "crashed", server.base_url)
        store = DatasetStore(tmp_path / "crashed", "demo")
        for point in KILL_POINTS:  # each re-run is killed at the next point, so it also resumes the one before
            code, output = run_flow(config, kill_at=point)
            assert code == -9, f"{point}: {output}"
            assert store.versions() == [], point  # nothing half-made is visible
        code, output = run_flow(config)
        assert code == 0, output

        assert [v.tag for v in store.versions()] == ["v1"]
        published = store.read()
        assert published["id"].is_unique().all()
        assert content(published).equals(expected)
        twice = paid_twice(server.requests[asked_before:])
        record_property("crashes_survived", len(KILL_POINTS))
        record_property("rows_lost", expected.height - published.height)
        record_property("requests_paid_twice", twice)
        assert twice == 0
