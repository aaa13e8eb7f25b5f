"""Screenshots of the Prefect UI as a user sees this project: the run form, a running distillation, a failed run.

Starts its own throwaway Prefect server (UI on), a process worker and the deployments of deployments/prefect.yaml,
triggers the runs, and saves PNGs with headless Chromium into docs/screenshots/ (the README shows them):

    apt-get install -y chromium        # Debian/Ubuntu (macOS: brew install --cask chromium)
    python -m deployments.screenshots [--out docs/screenshots] [--chromium /usr/bin/chromium]

The running distillation is `deployments/configs/quickstart.yaml` on the local model (no key needed); it is
photographed while its first distillation batch runs, then cancelled.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A Prefect server with the project deployed and a worker polling its pool."""

    def __init__(self, home: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": f"{self.url}/api",
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1",
                    "PYTHONPATH": str(ROOT)}
        self.logs = open(home / "server.log", "w")
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> Server:
        prefect = [sys.executable, "-m", "prefect"]
        self.start(*prefect, "server", "start", "--host", "127.0.0.1", "--port", str(self.port))
        self.wait_for(lambda: httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200, 180, "the server")
        run = lambda *args: subprocess.run(args, env=self.env, cwd=ROOT, check=True, capture_output=True)
        run(*prefect, "work-pool", "create", "synthfoundry", "--type", "process")
        self.start(*prefect, "worker", "start", "--pool", "synthfoundry", "--work-queue", "default")
        run(*prefect, "--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--all")
        return self

    def __exit__(self, *exc) -> None:
        for process in reversed(self.processes):
            process.terminate()
            process.wait(timeout=30)

    def start(self, *args: str) -> None:
        self.processes.append(subprocess.Popen(args, env=self.env, cwd=ROOT, stdout=self.logs, stderr=subprocess.STDOUT))

    def api(self, method: str, path: str, **body) -> dict | list:
        response = httpx.request(method, f"{self.url}/api{path}", json=body or None, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else {}

    def trigger(self, deployment: str, parameters: dict) -> str:
        found = self.api("GET", f"/deployments/name/{deployment}")
        return self.api("POST", f"/deployments/{found['id']}/create_flow_run", parameters=parameters)["id"]

    @staticmethod
    def wait_for(check, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise SystemExit(f"error: {what} was not ready in {timeout:.0f} s")


def shoot(chromium: str, url: str, out: Path) -> None:
    """A PNG of the page once its scripts ran (the UI is a single-page app that fetches after load)."""
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1440,1000", "--virtual-time-budget=15000", f"--screenshot={out}", url],
                   check=True, capture_output=True, timeout=120)
    print(f"saved {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args()
    if not args.chromium:
        raise SystemExit("error: no chromium on PATH: `apt-get install -y chromium` (or pass --chromium PATH)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home, Server(Path(home)) as server:
        on_demand = server.api("GET", "/deployments/name/generate-dataset/on-demand")
        shoot(args.chromium, f"{server.url}/deployments/deployment/{on_demand['id']}/run", args.out / "run-form.png")

        bad = Path(home) / "bad.yaml"
        bad.write_text((ROOT / "deployments/configs/procedural.yaml").read_text().replace("seed: 1234", "seed: many"))
        failed = server.trigger("generate-dataset/nightly-procedural", {"config": None, "config_path": str(bad)})
        server.wait_for(lambda: server.api("GET", f"/flow_runs/{failed}")["state_type"] == "FAILED", 300, "the failed run")
        shoot(args.chromium, f"{server.url}/runs/flow-run/{failed}", args.out / "failed-run.png")

        config = yaml.safe_load((ROOT / "deployments/configs/quickstart.yaml").read_text())
        config["publish"] = {"root": str(Path(home) / "data")}
        running = server.trigger("generate-dataset/on-demand", {"config": config})
        distilling = lambda: any(
            task["name"].startswith("distill") and task["state_type"] == "RUNNING"
            for task in server.api("POST", "/task_runs/filter", flow_runs={"id": {"any_": [running]}}))
        server.wait_for(distilling, 1800, "a distillation batch")
        time.sleep(20)  # a few batches of progress
        shoot(args.chromium, f"{server.url}/runs/flow-run/{running}", args.out / "running-distillation.png")
        server.api("POST", f"/flow_runs/{running}/set_state", state={"type": "CANCELLING"}, force=True)


if __name__ == "__main__":
    main()
