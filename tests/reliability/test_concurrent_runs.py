"""The same run config started twice at once (two nightly triggers of one dataset overlapping, same seed): both
make the same rows, paying each request once. The test holds the dataset's publish lock until both runs wait on
it, so both have checked their rows against an empty dataset: one publishes v1, and the other, re-checking under
the lock, finds nothing new and ends Completed saying so. No id is published twice."""

import fcntl
import time
from pathlib import Path

import pytest

from synthfoundry.dataset import DatasetStore
from tests.fakes.provider_server import ProviderServer
from tests.fakes.replies import self_instruct_reply
from tests.reliability.runs import paid_twice, start_flow, table_ids, write_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def waiting_on(lock: Path) -> int:
    """How many processes are blocked on `lock`'s flock (Linux: the `->` lines of /proc/locks)."""
    inode = f":{lock.stat().st_ino} "
    return sum("->" in line and inode in line for line in Path("/proc/locks").read_text().splitlines())


def test_two_runs_of_one_config_at_once_publish_its_rows_once(tmp_path, record_property):
    with ProviderServer(reply=self_instruct_reply, latency=0.2) as server:
        config = write_config(tmp_path / "run.yaml", tmp_path / "root", server.base_url)
        store = DatasetStore(tmp_path / "root", "demo")
        lock = Path(store.exports) / ".publish.lock"
        lock.parent.mkdir(parents=True)
        with open(lock, "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            runs = [start_flow(config) for _ in range(2)]
            while waiting_on(lock) < 2 and all(run.poll() is None for run in runs):
                time.sleep(0.2)
        outputs = [run.communicate(timeout=600)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs

        assert [v.tag for v in store.versions()] == ["v1"]
        published = store.read()
        assert published.height > 0 and published["id"].is_unique().all()
        assert sorted(table_ids(tmp_path / "root")) == sorted(published["id"])
        (second,) = [output for output in outputs if "nothing new to publish" in output]
        assert f"all {published.height} rows were published meanwhile by another run (latest demo v1)" in second
        assert "Traceback" not in second
        twice = paid_twice(server.requests)
        record_property("requests_paid_twice", twice)
        assert twice == 0
