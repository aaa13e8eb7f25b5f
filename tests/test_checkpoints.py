import signal
import subprocess
import sys
from pathlib import Path

from synthfoundry.dataset import DatasetStore
from tests.dataset.published import LEDGER, rows

WORKTREE = Path(__file__).resolve().parents[1]
PUBLISH_UNTIL = """
import sys, polars as pl
from synthfoundry.checkpoints import CrashPoint
from synthfoundry.dataset import DatasetStore
from tests.dataset.published import LEDGER, rows
root, crash = sys.argv[1:3]
DatasetStore(root, "ds", crash=CrashPoint(crash)).publish(rows(["b"], seed=1), LEDGER, {"run_id": "r2", "stages": {}})
print("published")
"""


def publish_until(root: Path, crash: str) -> subprocess.CompletedProcess:
    """A publish in its own process group, with the crash point given as a value (no environment variable)."""
    return subprocess.run([sys.executable, "-c", PUBLISH_UNTIL, str(root), crash], cwd=WORKTREE, capture_output=True,
                          text=True, timeout=120, start_new_session=True, env={"PYTHONPATH": str(WORKTREE)})


def test_a_crash_point_given_to_the_store_kills_its_publish_there_and_no_other(tmp_path):
    DatasetStore(tmp_path, "ds").publish(rows(["a"]), LEDGER, {"run_id": "r1", "stages": {}})
    killed = publish_until(tmp_path, "publish-tag")
    assert killed.returncode == -signal.SIGKILL and "published" not in killed.stdout
    store = DatasetStore(tmp_path, "ds")
    assert [v.tag for v in store.versions()] == ["v1"]
    assert "LanceDB tag v2: no committed version" in store.check()  # it died right after tagging
    finished = publish_until(tmp_path, "no-such-step")
    assert finished.returncode == 0 and "published" in finished.stdout, finished.stderr
    assert [v.tag for v in store.versions()] == ["v1", "v2"] and store.check() == []
