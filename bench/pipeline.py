"""The whole generate flow at scale: cosmopedia prompts (no teacher needed to make them) answered by the loopback
fake teacher with 1 s latency, embedded, diversity-filtered, contract-checked and published, once on the local
runner (the flow's threads) and once on a local Dask cluster of two processes.

Each runner runs twice, each run in a fresh process: in one batch (each stage alone, one after the other) and in
batches of --batch-size streamed through distillation -> embedding while later batches are distilled. Prints seconds
per stage (from the task runs' start and end times on the API; streamed stages overlap), requests/s, peak RSS (the
flow's process; for Dask also its largest child, a worker), and wall time over the bound max(distillation alone,
embedding alone), both measured by the one-batch run of the same runner (target <= 1.15).

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
        # the fake server has no capacity limit: a fixed in-flight limit is its bound
        "teacher": {"provider": "openai", "model": "gpt-4o-mini", "base_url": base_url, "max_tokens": 64,
                    "max_in_flight": in_flight, "drop_truncated": False, "max_requests": None,
                    "adaptive_concurrency": False},
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
    parser.add_argument("--batch-size", type=int, default=1000, help="rows per batch of the streamed run")
    args = parser.parse_args()

    server, base_url = start_server(args.latency)
    try:
        # each run in a fresh process, so its peak RSS is its own; one batch first: the stages one after another
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn, max_tasks_per_child=1) as pool:
            runs = [pool.submit(measure, runner, batch, args, base_url).result()
                    for runner in args.runners for batch in (args.rows, args.batch_size)]
    finally:
        server.terminate()
    # printed after the runs, so the flows' own logs do not bury it
    print(f"\n{args.rows} rows, {args.in_flight} in flight per process, teacher latency {args.latency} s; "
          "bound: max(distillation, embedding) of the same runner's one-batch run, where each runs alone")
    print("| runner | batches | wall s | " + " | ".join(f"{s} s" for s in STAGES.values())
          + " | requests/s | bound req/s | peak RSS MiB (flow / largest worker) | bound s | wall / bound |")
    print("|---" * (len(STAGES) + 8) + "|")
    for run in runs:
        alone = next(r for r in runs if r["runner"] == run["runner"] and r["batch"] == args.rows)["seconds"]
        bound = max(alone["distillation"], alone["embedding"])
        print(run["line"] + f" {bound:.1f} | {run['wall'] / bound:.2f} |")


def measure(runner: str, batch: int, args: argparse.Namespace, base_url: str) -> dict:
    """One run of the flow on `runner` in batches of `batch` rows, on its own throwaway Prefect API."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.generate import generate_dataset

    with prefect_test_harness(server_startup_timeout=120), tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        run_config = {**config(args.rows, base_url, args.in_flight, Path(root), runner), "batch_size": batch}
        state = generate_dataset(config=run_config, return_state=True)
        wall = time.perf_counter() - started
        state.result()
        seconds = stage_seconds(state.state_details.flow_run_id)
    rate = args.rows / seconds["distillation"]
    bound = args.in_flight * (2 if runner == "dask" else 1) / args.latency
    flow_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if runner == "dask" else None
    batches = "one" if batch >= args.rows else f"of {batch}"
    line = (f"| {runner} | {batches} | {wall:.1f} | " + " | ".join(f"{seconds.get(s, 0):.1f}" for s in STAGES.values())
            + f" | {rate:.0f} | {bound:.0f} | {flow_rss:.0f} / {f'{worker_rss:.0f}' if worker_rss else '-'} |")
    return {"runner": runner, "batch": batch, "wall": wall, "seconds": seconds, "line": line}


if __name__ == "__main__":
    main()
