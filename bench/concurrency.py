"""Adaptive concurrency against fixed in-flight limits, on a server that queues past its capacity.

The loopback fake provider runs in its own process as a self-hosted server would (vLLM, llama.cpp): it answers
`--capacity` requests at a time, each in `--latency` seconds, queues the rest and never answers 429. The managed
teacher (cache off) sends the same number of requests at each fixed in-flight limit of the sweep, then with the
adaptive limit (between 1 and the sweep's highest setting), in the same run. Printed: requests/s, mean latency per
request (send to answer, queueing in the server included) and each setting's throughput over the best fixed one.

    .venv/bin/python -m bench.concurrency [--capacity 32] [--latency 0.2] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass

from bench.teacher_throughput import start_server
from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.base import ChatRequest, Completion, Teacher, complete_many
from synthfoundry.teachers.config import TeacherConfig
from tests.fakes.provider_server import raise_fd_limit


@dataclass
class Timed:
    """The SDK teacher, timing each request from send to answer."""

    teacher: Teacher
    total_s: float = 0.0

    def __getattr__(self, name: str):
        return getattr(self.teacher, name)

    async def complete(self, request: ChatRequest) -> Completion:
        started = time.monotonic()
        try:
            return await self.teacher.complete(request)
        finally:
            self.total_s += time.monotonic() - started


def measure(base_url: str, count: int, limit: int, adaptive: bool) -> tuple[float, float, int]:
    """(requests/s, mean latency s, the limit at the end)"""
    config = TeacherConfig(provider="openai", model="bench", base_url=base_url, max_in_flight=limit, max_tokens=32,
                           cache=False, adaptive_concurrency=adaptive, max_requests=None, timeout_s=600)
    teacher = make_managed_teacher(config)
    timed = teacher.teacher = Timed(teacher.teacher)
    tag = f"{'adaptive' if adaptive else 'fixed'}-{limit}"
    requests = [ChatRequest(messages=({"role": "user", "content": f"[{tag}] item {i}"},), max_tokens=32)
                for i in range(count)]
    started = time.perf_counter()
    outcome = asyncio.run(complete_many(teacher, requests, limit))
    wall = time.perf_counter() - started
    if outcome.failures:
        raise SystemExit(f"{tag}: {outcome.failures} of {count} requests failed")
    return count / wall, timed.total_s / count, teacher.slots.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capacity", type=int, default=32, help="requests the server answers at once")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request at the server")
    parser.add_argument("--requests", type=int, default=3000, help="requests per setting")
    parser.add_argument("--fixed", type=float, nargs="+", default=[0.25, 0.5, 1, 2, 4],
                        help="fixed in-flight limits, as multiples of the capacity")
    args = parser.parse_args()
    raise_fd_limit()
    server, base_url = start_server(args.latency, "--capacity", str(args.capacity))
    rows = []
    try:
        settings = [max(1, round(f * args.capacity)) for f in args.fixed]
        for limit in settings:
            rows.append((f"fixed {limit}", *measure(base_url, args.requests, limit, adaptive=False)))
            print(rows[-1], file=sys.stderr)
        rows.append((f"adaptive 1..{max(settings)}", *measure(base_url, args.requests, max(settings), adaptive=True)))
        print(rows[-1], file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    best = max(rate for name, rate, _, _ in rows if name.startswith("fixed"))
    bound = args.capacity / args.latency
    print(f"server: capacity {args.capacity}, {args.latency} s a request (bound {bound:.0f} req/s); "
          f"{args.requests} requests a setting")
    print("| in flight | req/s | / bound | mean latency s | / best fixed | limit at the end |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rate, latency, final in rows:
        print(f"| {name} | {rate:.1f} | {rate / bound:.2f} | {latency:.2f} | {rate / best:.2f} | {final} |")


if __name__ == "__main__":
    main()
