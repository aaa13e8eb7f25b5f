"""Executions per second: the sandbox (bwrap, rlimits, an emptied folder per program) against a bare `subprocess.run`.

    .venv/bin/python -m bench.sandbox                  # 1, 2 and 4 in parallel; 5 paired rounds
    .venv/bin/python -m bench.sandbox --runs 20 --rounds 1

Both sides run the same `python3` on the same file with the same clean environment, each in a session of its own (the
kernel's autogroup scheduling gives every session a fair share of a loaded machine), so the difference is the
sandbox's own cost. Each round measures bare then sandboxed, back to back, so load from other work on the machine
hits both alike; the ratio printed is the median of the rounds' ratios (the rates: the best round of each). The
sandbox's warm workers start before the clock (once per level: a run keeps its pool for all its programs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from synthfoundry.sandbox import Sandbox, SandboxConfig

PROGRAMS = {
    "trivial": "pass\n",
    "50 ms": "import time\nstarted = time.perf_counter()\nwhile time.perf_counter() - started < 0.05:\n    pass\n",
}


def bare_rate(program: str, parallel: int, runs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "main.py")
        path.write_text(program)
        environment = Sandbox._environment(folder)

        def once(_):
            subprocess.run(["python3", str(path)], env=environment, cwd=folder, capture_output=True, check=True,
                           start_new_session=True)

        started = time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(once, range(runs)))
        return runs / (time.perf_counter() - started)


def sandbox_rate(sandbox: Sandbox, program: str, runs: int) -> float:
    started = time.perf_counter()
    results = asyncio.run(sandbox.run_many([program] * runs))
    elapsed = time.perf_counter() - started
    assert all(result.passed for result in results), {result.status for result in results}
    return runs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--runs", type=int, default=30, help="executions per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--isolation", default="bwrap")
    args = parser.parse_args()
    print(f"{'program':8} {'parallel':>8} {'bare/s':>8} {'sandbox/s':>9} {'sandbox/bare':>12}")
    for name, program in PROGRAMS.items():
        for parallel in args.levels:
            with Sandbox(SandboxConfig(isolation=args.isolation, concurrency=parallel)) as sandbox:
                asyncio.run(sandbox.run_many([program] * parallel))  # start the workers
                rounds = [(bare_rate(program, parallel, args.runs), sandbox_rate(sandbox, program, args.runs))
                          for _ in range(args.rounds)]
            bare, boxed = max(bare for bare, _ in rounds), max(boxed for _, boxed in rounds)
            ratio = statistics.median(boxed / bare for bare, boxed in rounds)
            print(f"{name:8} {parallel:>8} {bare:>8.1f} {boxed:>9.1f} {ratio:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
