"""Runs started without PREFECT_API_URL, as a user starts them on a laptop: Prefect's ephemeral server."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def python(tmp_path, *args, **env):
    environ = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    environ |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run([sys.executable, *args], env=environ, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)


def test_the_ephemeral_server_gets_longer_to_start_unless_the_user_set_it(tmp_path):
    show = ("from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as wait\n"
            "from flows.ephemeral import ephemeral_api\n"
            "with ephemeral_api():\n    print(wait.value())")
    assert python(tmp_path, "-c", show).stdout.split() == ["120"]  # Prefect's default is 20
    assert python(tmp_path, "-c", show, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="45").stdout.split() == ["45"]


def test_a_server_that_does_not_start_in_time_is_one_message_and_nothing_runs(tmp_path):
    config = ROOT / "deployments/configs/procedural.yaml"
    result = python(tmp_path, "-m", "flows.generate", str(config), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "error: Prefect's temporary API server did not start within 1 s (nothing ran;" in result.stderr
    assert "`prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api" in result.stderr
    assert not (tmp_path / "synthfoundry-data").exists()
