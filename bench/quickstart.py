"""Time the README's main job on this machine: `python bench/quickstart.py`.

Runs deployments/configs/quickstart.yaml into a throwaway publish root (twice, so the second run shows the
cost of checking novelty against a published version) and prints rows published, wall time and teacher tokens/s.
Target (issue 2): >= 20 rows in < 5 minutes on a 2-core machine with the local model.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from flows.generate import generate_dataset

    config = yaml.safe_load((ROOT / "deployments" / "configs" / "quickstart.yaml").read_text())
    with tempfile.TemporaryDirectory() as root:
        config["publish"] = {"root": root}
        path = Path(root) / "quickstart.yaml"
        path.write_text(yaml.safe_dump(config))
        print("run  rows  seconds  rows/min  completion tokens")
        for run in (1, 2):
            start = time.perf_counter()
            version = Path(generate_dataset(config_path=str(path)))
            seconds = time.perf_counter() - start
            manifest = json.loads((version / "manifest.json").read_text())
            rows = manifest["rows"]["added"]
            print(f"{run:>3}  {rows:>4}  {seconds:>7.1f}  {rows / seconds * 60:>8.1f}  {manifest['tokens']['completion']:>17}")


if __name__ == "__main__":
    main()
