"""Teacher throughput: the managed teacher against the bare SDK, on a loopback fake provider with 1 s latency.

For each level of requests in flight (64 / 256 / 1024; 20 x that many requests per level) it prints achieved
requests/s, the ratio to the bound (in flight / latency), client CPU seconds per request, and the same for a bare
baseline in the same run: the SDK's AsyncOpenAI with asyncio.gather and a semaphore, no cache, no accounting.
The managed teacher runs with everything a real run has: the request cache (a fresh SQLite file, so every request
is a miss that gets written), the in-flight slots, budget accounting and pricing.

The fake server runs in its own process (the client would otherwise share its CPU).

    .venv/bin/python -m bench.teacher_throughput [--levels 64 256 1024] [--per-level 20] [--latency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import openai

from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.base import ChatRequest, Completion, complete_many
from synthfoundry.teachers.config import TeacherConfig
from tests.fakes.provider_server import raise_fd_limit

ROOT = Path(__file__).resolve().parents[1]
MODEL = "gpt-4o-mini"


def start_server(latency: float, *options: str) -> tuple[subprocess.Popen, str]:
    """The fake provider in a process of its own (`options`: more of its command-line options)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.provider_server", "--latency", str(latency), *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())
    return server, f"http://127.0.0.1:{port}/v1"


def prompts(count: int, level: int, tag: str) -> list[str]:
    """Distinct prompts per run, so the managed teacher's cache never answers for the server."""
    return [f"[{tag} {level}] Question {i}: explain item {i} briefly." for i in range(count)]


async def bare(base_url: str, texts: list[str], in_flight: int) -> int:
    client = openai.AsyncOpenAI(api_key="bench", base_url=base_url)
    gate = asyncio.Semaphore(in_flight)

    async def one(text: str) -> bool:
        async with gate:
            response = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": text}], max_tokens=64
            )
            return bool(response.choices[0].message.content)

    answered = await asyncio.gather(*(one(t) for t in texts))
    await client.close()
    return sum(answered)


async def managed(base_url: str, texts: list[str], in_flight: int, cache_dir: Path) -> int:
    config = TeacherConfig(
        provider="openai",
        model=MODEL,
        base_url=base_url,
        max_in_flight=in_flight,
        max_tokens=64,
        cache_path=cache_dir / f"requests-{in_flight}.sqlite",
    )
    teacher = make_managed_teacher(config)
    requests = [ChatRequest(messages=({"role": "user", "content": t},), max_tokens=64) for t in texts]
    outcome = await complete_many(teacher, requests, in_flight)
    return sum(isinstance(r, Completion) for r in outcome.results)


def measure(run: Callable[[], Awaitable[int]], count: int) -> tuple[float, float]:
    """(requests/s, client CPU seconds per request)"""
    wall, cpu = time.perf_counter(), time.process_time()
    answered = asyncio.run(run())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if answered != count:
        raise SystemExit(f"only {answered} of {count} requests were answered")
    return count / wall, cpu / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--per-level", type=int, default=20, help="requests per level = this x in flight")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the fake server takes per request")
    args = parser.parse_args()
    raise_fd_limit()
    server, base_url = start_server(args.latency)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as cache_dir:
            for level in args.levels:
                count = args.per_level * level
                bound = level / args.latency
                base = measure(lambda count=count, level=level: bare(base_url, prompts(count, level, "bare"), level), count)
                ours = measure(lambda count=count, level=level: managed(
                    base_url, prompts(count, level, "managed"), level, Path(cache_dir)), count)
                rows.append((level, count, bound, base, ours))
                print(f"level {level}: bare {base[0]:.0f} req/s, managed {ours[0]:.0f} req/s", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()

    print("| in flight | requests | bound req/s | bare req/s | bare / bound | bare CPU ms/req "
          "| managed req/s | managed / bound | managed CPU ms/req | managed / bare |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for level, count, bound, (b_rate, b_cpu), (m_rate, m_cpu) in rows:
        print(
            f"| {level} | {count} | {bound:.0f} | {b_rate:.0f} | {b_rate / bound:.2f} | {b_cpu * 1e3:.2f} "
            f"| {m_rate:.0f} | {m_rate / bound:.2f} | {m_cpu * 1e3:.2f} | {m_rate / b_rate:.2f} |"
        )


if __name__ == "__main__":
    main()
