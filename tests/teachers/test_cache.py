"""The request cache: keyed by what was asked of whom, durable per answer, safe across threads and processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from synthfoundry.teachers.base import ChatRequest, Completion
from synthfoundry.teachers.cache import RequestCache, request_key

REQUEST = ChatRequest(messages=({"role": "user", "content": "hi"},), temperature=0.3, max_tokens=20, seed=1)
ANSWER = Completion(text="hello", model="m-2025", prompt_tokens=3, completion_tokens=1, reasoning="r", provider="openai")


def test_key_is_provider_endpoint_model_and_the_rendered_request() -> None:
    key = request_key("openai", None, "m", REQUEST)
    assert key == request_key("openai", None, "m", ChatRequest(**vars(REQUEST)))
    variants = [
        request_key("anthropic", None, "m", REQUEST),
        request_key("openai", "http://127.0.0.1:8000/v1", "m", REQUEST),
        request_key("openai", None, "m2", REQUEST),
        request_key("openai", None, "m", ChatRequest(REQUEST.messages, temperature=0.4, max_tokens=20, seed=1)),
        request_key("openai", None, "m", ChatRequest(REQUEST.messages, temperature=0.3, max_tokens=20, seed=2)),
        request_key("openai", None, "m", ChatRequest(REQUEST.messages, 0.3, 1.0, 20, 1, (), '{"type":"object"}')),
    ]
    assert len({key, *variants}) == 7


def test_answers_survive_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    RequestCache(path).put("k", ANSWER)
    code = (
        "from synthfoundry.teachers.cache import RequestCache\n"
        f"hit = RequestCache({str(path)!r}).get('k')\n"
        "assert hit.text == 'hello' and hit.cached and hit.reasoning == 'r' and hit.provider == 'openai', hit\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert RequestCache(path).get("missing") is None


def test_concurrent_writers_in_threads_and_processes(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = RequestCache(path)
    code = (
        "from synthfoundry.teachers.cache import RequestCache\n"
        "from synthfoundry.teachers.base import Completion\n"
        f"cache = RequestCache({str(path)!r})\n"
        "for i in range(200): cache.put(f'p{i}', Completion(text=str(i), model='m', prompt_tokens=1, completion_tokens=1))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code])
    threads = [
        threading.Thread(target=lambda t=t: [cache.put(f"t{t}-{i}", ANSWER) for i in range(200)]) for t in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert process.wait() == 0
    assert all(cache.get(f"t{t}-199") for t in range(4)) and cache.get("p199").text == "199"


ASKER = """
import json, sys
from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.base import ChatRequest, complete_all
from synthfoundry.teachers.config import TeacherConfig

teacher = make_managed_teacher(TeacherConfig(**json.loads(sys.argv[1])))
requests = [ChatRequest(messages=({"role": "user", "content": f"Question {i}?"},)) for i in range(20)]
results = complete_all(teacher, requests, max_in_flight=20).results
print(sum(r.cached for r in results), flush=True)
"""


def test_two_processes_asking_the_same_uncached_requests_pay_once(tmp_path: Path) -> None:
    import json

    from tests.fakes.provider_server import ProviderServer

    with ProviderServer(latency=0.5) as server:
        settings = json.dumps({"provider": "openai", "model": "m", "base_url": server.base_url, "max_retries": 0,
                               "cache_path": str(tmp_path / "cache.sqlite")})
        askers = [subprocess.Popen([sys.executable, "-c", ASKER, settings], stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONPATH": str(Path.cwd())}) for _ in range(2)]
        cached = sorted(int(p.communicate(timeout=120)[0]) for p in askers)
        assert [p.returncode for p in askers] == [0, 0]
        assert server.count == 20  # each request paid once between the two
    assert sum(cached) == 20  # what one process did not send it read from the cache


def test_a_claim_held_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    cache = RequestCache(tmp_path / "cache.sqlite")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    cache.connection().execute("INSERT INTO claims (key, pid) VALUES ('k', ?)", (dead.pid,))
    assert cache.claim("k")
    assert not cache.claim("k")  # now held by a live asker (this process): a second asker waits
    cache.release("k")
    assert cache.claim("k")


def test_tool_calls_are_kept_with_the_answer(tmp_path: Path) -> None:
    cache = RequestCache(tmp_path / "c.sqlite")
    calls = ({"id": "call_0", "name": "add", "arguments": '{"a": 1}'},)
    answer = Completion(text="", model="m", prompt_tokens=3, completion_tokens=1, tool_calls=calls)
    assert not answer.empty  # an answer that only calls is an answer
    key = request_key("openai", None, "m", ChatRequest(REQUEST.messages, tools='[{"type":"function"}]'))
    assert key != request_key("openai", None, "m", REQUEST)
    cache.put(key, answer)
    assert cache.get(key).tool_calls == calls
