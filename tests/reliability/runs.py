"""Run the real flow in its own process group, against the loopback fake teacher, for the reliability suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import yaml

from tasks.checkpoints import KILL_AT

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


def start_flow(config: Path, kill_at: str | None = None) -> subprocess.Popen:
    """The flow in a new process group, talking to the test session's Prefect API (`prefect_harness`)."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop(KILL_AT, None)
    if kill_at:
        env[KILL_AT] = kill_at
    return subprocess.Popen([sys.executable, "-m", "flows.generate", str(config)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def run_flow(config: Path, kill_at: str | None = None) -> tuple[int, str]:
    process = start_flow(config, kill_at)
    output, _ = process.communicate(timeout=600)
    return process.returncode, output


def paid_twice(requests: list[dict]) -> int:
    """Chat requests the server answered more than once (the same body asked again)."""
    bodies = [json.dumps(r["body"], sort_keys=True) for r in requests if r["path"] == "/v1/chat/completions"]
    return len(bodies) - len(set(bodies))


def content(frame: pl.DataFrame) -> pl.DataFrame:
    """A version's rows without what differs between runs of the same config (run id, timestamps, vectors)."""
    return frame.drop("run_id", "created_at", "vector", strict=False).sort("id")
