"""The whole generate flow at scale against bounds measured in the same run: cosmopedia prompts (no teacher needed to
make them) answered by the loopback fake teacher (1 s latency, its own process), embedded (MiniLM), diversity-filtered,
contract-checked and published, with distillation batches streamed into embedding while later ones are distilled.

Every run is a fresh process, in this order:
- distillation alone: the flow's requests through the flow's teacher layer (managed teacher, request cache, limits),
  nothing else;
- embedding alone: the answers it got through the flow's embedding step;
- the flow, streamed, at --rows and at --small-rows (peak RSS at two sizes).
The flow has no sequential mode: "sequential" is the sum of the two alone times. CPU seconds are the process's own,
its children's (the flow's Prefect API server, Dask workers) and the fake server's. Bounds: max(the alone times), and
the CPU bound, the alone runs' CPU seconds over the cores (on 2 cores two CPU-bound stages cannot overlap to max(a, b)).

    .venv/bin/python -m bench.pipeline [--rows 20000] [--small-rows 5000] [--in-flight 256] [--latency 1]
                                       [--runner local|dask]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil

from bench.teacher_throughput import start_server
from synthfoundry.embeddings import DIMENSIONS

BATCH_SIZE = 1000
PER_SEED = 16  # every cell of cosmopedia's 4 audiences x 4 formats grid
STAGES = {"synthesize": "synthesis", "forecast_distillation": "forecast", "distill_batch": "distillation",
          "embed_rows": "embedding", "filter-diversity": "diversity", "check_contract": "contract",
          "publish_version": "publish"}


def config(rows: int, base_url: str, in_flight: int, root: Path, runner: str = "local") -> dict:
    """The run: `rows` rounded up to whole topics."""
    topics = [f"topic {i}: the {['history', 'physics', 'craft', 'economics'][i % 4]} of item {i}"
              for i in range(-(-rows // PER_SEED))]
    return {
        "dataset": "bench",
        "seed": 1,
        "recipe": {"name": "cosmopedia", "topics": topics, "per_seed": PER_SEED},
        # the fake server has no capacity limit: a fixed in-flight limit is its bound
        "teacher": {"provider": "openai", "model": "gpt-4o-mini", "base_url": base_url, "max_tokens": 64,
                    "max_in_flight": in_flight, "drop_truncated": False, "max_requests": None,
                    "adaptive_concurrency": False},
        "filters": [{"name": "diversity", "threshold": 0.95}],
        "publish": {"root": str(root)},
        "batch_size": BATCH_SIZE,
        "runner": {"kind": runner, "n_workers": 2},
    }


class Usage:
    """Wall time and CPU seconds from here on: this process's, its children's (counted once they were waited for:
    the Prefect API server when its harness closes) and the fake server's."""

    def __init__(self, server_pid: int) -> None:
        self.server = psutil.Process(server_pid)
        live = sum(_cpu(child.cpu_times()) for child in psutil.Process().children(recursive=True))
        self.wall, self.own, self.server_cpu = time.perf_counter(), time.process_time(), _cpu(self.server.cpu_times())
        self.children = _children_cpu() + live

    def stop(self) -> None:
        """The run is over: its wall time, own CPU, the fake server's, and the process's peak RSS so far."""
        self.rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.wall = time.perf_counter() - self.wall
        self.own = time.process_time() - self.own
        self.server_cpu = _cpu(self.server.cpu_times()) - self.server_cpu

    def result(self, **more) -> dict:
        """The run's figures, once its children have exited."""
        cpu = {"process": self.own, "children": _children_cpu() - self.children, "fake server": self.server_cpu}
        return {"wall": self.wall, "cpu": cpu, "rss": self.rss, "load": os.getloadavg()[0], **more}


def _cpu(times) -> float:
    return times.user + times.system


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def distill_alone(args: argparse.Namespace, base_url: str, server_pid: int, answers: Path) -> dict:
    """The flow's requests (the cosmopedia prompts its synthesis makes) through its teacher layer in one call."""
    import random

    from synthfoundry.config import parse_config
    from synthfoundry.distill import distill
    from synthfoundry.recipes import get_recipe
    from tasks.teacher import teacher_from_config

    with tempfile.TemporaryDirectory() as root:
        run = parse_config(config(args.rows, base_url, args.in_flight, Path(root)))
        teacher = run.teacher.with_cache_under(root)
        usage = Usage(server_pid)
        prompts = get_recipe(run.recipe.name).synthesize(run.recipe, None, random.Random(run.seed_for(1)), print).kept
        result = distill(prompts, teacher_from_config(teacher), teacher.temperature, teacher.top_p, teacher.max_tokens,
                         teacher.max_in_flight, teacher.drop_truncated, teacher.n)
        usage.stop()
    result.kept.write_parquet(answers)
    return usage.result(run="distillation alone", rows=result.kept.height, seconds={"distillation": usage.wall})


def embed_alone(args: argparse.Namespace, base_url: str, server_pid: int, answers: Path) -> dict:
    """The answers through the flow's embedding step (its task's function), model loading included as in the flow."""
    import polars as pl

    import flows  # noqa: F401 - the process settings a flow's process has (OpenMP threads that wait passively)
    from synthfoundry.config import parse_config
    from synthfoundry.recipes import get_recipe
    from tasks.filters import embed_rows

    run = parse_config(config(args.rows, base_url, args.in_flight, Path("unused")))
    rows = pl.read_parquet(answers)
    usage = Usage(server_pid)
    embed_rows.fn(rows, get_recipe(run.recipe.name).EMBED_COLUMN, run.embedding)
    usage.stop()
    return usage.result(run="embedding alone", rows=rows.height, seconds={"embedding": usage.wall})


def streamed(args: argparse.Namespace, base_url: str, server_pid: int, rows: int) -> dict:
    """The flow on its own throwaway Prefect API, batches streamed between stages."""
    import polars as pl
    from prefect.testing.utilities import prefect_test_harness

    from flows.generate import PROGRESS_STEPS, batches, generate_dataset
    from synthfoundry.dataset import DatasetStore

    with tempfile.TemporaryDirectory() as root:
        run = config(rows, base_url, args.in_flight, Path(root), args.runner)
        rows = len(run["recipe"]["topics"]) * PER_SEED
        with prefect_test_harness(server_startup_timeout=120):
            usage = Usage(server_pid)
            state = generate_dataset(config=run, return_state=True)
            usage.stop()
            state.result()
            spans = stage_spans(state.state_details.flow_run_id)
        published = DatasetStore(root, "bench").read()
    seconds = {stage: end - start for stage, (start, end) in spans.items()}
    # from the first batch sent to the teacher to the last one embedded: what the bounds compare with
    seconds["overlapped"] = spans["embedding"][1] - spans["distillation"][0]
    held = (published.estimated_size() + published.height * DIMENSIONS * 4) / 2**20  # what the flow must keep
    batch = batches(pl.DataFrame({"row": range(rows)}), BATCH_SIZE, PROGRESS_STEPS)[0].height
    return usage.result(run=f"streamed, {args.runner}", rows=rows, batch=batch, held=held, seconds=seconds)


def stage_spans(flow_run_id) -> dict[str, tuple[float, float]]:
    """Per stage, from the first of its task runs' start to the last one's end (epoch seconds)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                     task_run_filter=TaskRunFilter(), limit=200)
    times: dict[str, list] = defaultdict(list)
    for run in runs:
        name = next((stage for prefix, stage in STAGES.items() if run.name.startswith(prefix)), None)
        if name and run.start_time and run.end_time:
            times[name] += [run.start_time.timestamp(), run.end_time.timestamp()]
    return {name: (min(stamps), max(stamps)) for name, stamps in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--small-rows", type=int, default=5_000, help="the second size the flow streams (memory)")
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--runner", default="local", choices=["local", "dask"], help="where the flow's stages run")
    args = parser.parse_args()

    server, base_url = start_server(args.latency)
    spawn = multiprocessing.get_context("spawn")
    try:
        with tempfile.TemporaryDirectory() as scratch, ProcessPoolExecutor(
                1, mp_context=spawn, max_tasks_per_child=1) as pool:
            answers = Path(scratch) / "answers.parquet"
            runs = [pool.submit(*job).result() for job in [
                (distill_alone, args, base_url, server.pid, answers),
                (embed_alone, args, base_url, server.pid, answers),
                (streamed, args, base_url, server.pid, args.rows),
                (streamed, args, base_url, server.pid, args.small_rows),
            ]]
    finally:
        server.terminate()
    report(runs, args)


def report(runs: list[dict], args: argparse.Namespace) -> None:
    """Printed after the runs, so the flows' own logs do not bury it."""
    distillation, embedding, flow, small = runs
    cores = len(os.sched_getaffinity(0))
    alone_cpu = sum(sum(r["cpu"].values()) for r in (distillation, embedding))
    bounds = {"max(alone)": max(distillation["wall"], embedding["wall"]), f"CPU / {cores} cores": alone_cpu / cores,
              "sequential (sum of alone)": distillation["wall"] + embedding["wall"]}
    print(f"\n{args.rows} rows, {args.in_flight} in flight, teacher latency {args.latency} s, {cores} cores "
          "(load after: the 1-minute load average, the machine's runnable processes)")
    print("| run | rows | wall s | distillation s | embedding s | overlapped s | CPU s (process + children + fake server)"
          " | peak RSS MiB | load after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        cpu = run["cpu"]
        seconds = [run["seconds"].get(s) for s in ("distillation", "embedding", "overlapped")]
        print(f"| {run['run']} | {run['rows']} | {run['wall']:.1f} | "
              + " | ".join("–" if s is None else f"{s:.1f}" for s in seconds)
              + f" | {sum(cpu.values()):.1f} = {cpu['process']:.1f} + {cpu['children']:.1f} + "
              f"{cpu['fake server']:.1f} | {run['rss']:.0f} | {run['load']:.1f} |")
    outside = flow["wall"] - flow["seconds"]["overlapped"]
    print(f"\nstreamed run ({args.rows} rows): wall {flow['wall']:.1f} s, distillation -> embedding "
          f"{flow['seconds']['overlapped']:.1f} s, outside it {outside:.1f} s ({outside / flow['wall']:.0%}); stages: "
          + ", ".join(f"{s} {v:.1f}" for s, v in flow["seconds"].items() if s != "overlapped"))
    print("| bound | s | wall / bound | distillation -> embedding / bound |")
    print("|---|---:|---:|---:|")
    for name, seconds in bounds.items():
        print(f"| {name} | {seconds:.1f} | {flow['wall'] / seconds:.2f} | {flow['seconds']['overlapped'] / seconds:.2f} |")
    growth = (flow["rss"] - small["rss"]) / (flow["rows"] - small["rows"]) * 1000
    print("\n| streamed rows | rows per batch | peak RSS MiB | published rows and vectors MiB |\n|---:|---:|---:|---:|")
    for run in (small, flow):
        print(f"| {run['rows']} | {run['batch']} | {run['rss']:.0f} | {run['held']:.0f} |")
    print(f"peak RSS grows {growth:.1f} MiB per 1000 rows")


if __name__ == "__main__":
    main()
