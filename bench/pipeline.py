"""The whole generate flow at scale: cosmopedia prompts (no teacher needed to make them) answered by the loopback
fake teacher with 1 s latency, embedded, diversity-filtered, contract-checked and published, once on the local
runner (the flow's threads) and once on a local Dask cluster of two processes.

Each runner runs in a fresh process. Prints seconds per stage (from the task runs' start and end times on the API),
requests/s, peak RSS (the flow's process; for Dask also its largest child, a worker), and the share of wall time
spent outside teacher waits and embedding: what orchestration costs (target <= 10 %).

    .venv/bin/python -m bench.pipeline [--rows 20000] [--in-flight 256] [--latency 1] [--runners local dask]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.teacher_throughput import start_server

STAGES = {"synthesize": "synthesis", "forecast_distillation": "forecast", "distill_batch": "distillation",
          "embed_rows": "embedding", "filter-diversity": "diversity", "check_contract": "contract",
          "publish_version": "publish"}


def config(rows: int, base_url: str, in_flight: int, root: Path, runner: str) -> dict:
    per_seed = 16  # every cell of the 4 audiences x 4 formats grid
    # distinct per runner, so the second run's requests are not answered by the first one's request cache
    topics = [f"topic {i} ({runner}): the {['history', 'physics', 'craft', 'economics'][i % 4]} of item {i}"
              for i in range(-(-rows // per_seed))]
    return {
        "dataset": f"bench_{runner}",
        "seed": 1,
        "recipe": {"name": "cosmopedia", "topics": topics, "per_seed": per_seed},
        "teacher": {"provider": "openai", "model": "gpt-4o-mini", "base_url": base_url, "max_tokens": 64,
                    "max_in_flight": in_flight, "drop_truncated": False, "max_requests": None},
        "filters": [{"name": "diversity", "threshold": 0.95}],
        "publish": {"root": str(root)},
        "batch_size": 1000,
        "runner": {"kind": runner, "n_workers": 2},
    }


def stage_seconds(flow_run_id) -> dict[str, float]:
    """Per stage, from the first of its task runs' start to the last one's end."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                     task_run_filter=TaskRunFilter(), limit=200)
    spans: dict[str, list] = defaultdict(list)
    for run in runs:
        name = next((stage for prefix, stage in STAGES.items() if run.name.startswith(prefix)), None)
        if name and run.start_time and run.end_time:
            spans[name] += [run.start_time, run.end_time]
    return {name: (max(times) - min(times)).total_seconds() for name, times in spans.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--runners", nargs="+", default=["local", "dask"], choices=["local", "dask"])
    args = parser.parse_args()

    server, base_url = start_server(args.latency)
    try:
        # each runner in a fresh process, so its peak RSS is its own
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn, max_tasks_per_child=1) as pool:
            rows = [pool.submit(measure, runner, args, base_url).result() for runner in args.runners]
    finally:
        server.terminate()
    # printed after the runs, so the flows' own logs do not bury it
    print(f"\n{args.rows} rows, {args.in_flight} in flight per process, teacher latency {args.latency} s")
    print("| runner | wall s | " + " | ".join(f"{s} s" for s in STAGES.values())
          + " | requests/s | bound req/s | peak RSS MiB (flow / largest worker) | outside teacher + embedding |")
    print("|---" * (len(STAGES) + 6) + "|")
    print("\n".join(rows))


def measure(runner: str, args: argparse.Namespace, base_url: str) -> str:
    """One run of the flow on `runner`, on its own throwaway Prefect API: its row of the table."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.generate import generate_dataset

    with prefect_test_harness(server_startup_timeout=120), tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        run_config = config(args.rows, base_url, args.in_flight, Path(root), runner)
        state = generate_dataset(config=run_config, return_state=True)
        wall = time.perf_counter() - started
        state.result()
        seconds = stage_seconds(state.state_details.flow_run_id)
    rate = args.rows / seconds["distillation"]
    bound = args.in_flight * (2 if runner == "dask" else 1) / args.latency
    flow_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if runner == "dask" else None
    outside = wall - seconds["distillation"] - seconds["embedding"]
    return (f"| {runner} | {wall:.1f} | " + " | ".join(f"{seconds.get(s, 0):.1f}" for s in STAGES.values())
            + f" | {rate:.0f} | {bound:.0f} | {flow_rss:.0f} / {f'{worker_rss:.0f}' if worker_rss else '-'}"
            + f" | {outside:.1f} s = {100 * outside / wall:.1f} % |")


if __name__ == "__main__":
    main()
