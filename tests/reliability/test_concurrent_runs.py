"""Two runs of one dataset at once (two nightly runs overlapping): both publish, one after the other, ids stay
unique, and no request is paid twice."""

import pytest

from synthfoundry.store import DatasetStore
from tests.fakes.provider_server import ProviderServer
from tests.fakes.replies import self_instruct_reply
from tests.reliability.runs import paid_twice, start_flow, write_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_two_overlapping_runs_of_one_dataset(tmp_path, record_property):
    with ProviderServer(reply=self_instruct_reply, latency=0.2) as server:
        configs = [write_config(tmp_path / f"run{i}.yaml", tmp_path / "root", server.base_url, seed=i) for i in (1, 2)]
        runs = [start_flow(config) for config in configs]
        outputs = [run.communicate(timeout=600)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs

        store = DatasetStore(tmp_path / "root", "demo")
        assert [v.tag for v in store.versions()] == ["v1", "v2"]
        assert store.read()["id"].is_unique().all()
        twice = paid_twice(server.requests)
        record_property("requests_paid_twice", twice)
        assert twice == 0
