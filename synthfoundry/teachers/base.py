"""What every teacher speaks: one chat request in, one completion out, failures as values not exceptions."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from synthfoundry.errors import SynthfoundryError, UserError
from synthfoundry.redaction import redact
from synthfoundry.spend import prompt_tokens, text_tokens

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

T = TypeVar("T")

# The ledger reason of a request the budget cap kept from being sent.
BUDGET_EXHAUSTED = "budget exhausted"


@dataclass(frozen=True)
class ChatRequest:
    """A fully rendered request: the unit that is sent, cached and billed."""

    messages: tuple[dict[str, Any], ...]  # OpenAI chat form; tool-use turns carry `tool_calls` / `tool_call_id`
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # JSON Schema (canonical JSON text) the answer must match; each provider sends it its own way.
    json_schema: str | None = None
    # OpenAI-style function schemas (canonical JSON text) the model may call; each provider sends them its own way.
    tools: str | None = None


def estimate_tokens(request: ChatRequest) -> int:
    """A request's prompt tokens as every forecast counts them (spend.prompt_tokens), with its JSON schema and its
    tools; a turn that called tools counts its calls."""
    texts = ((m.get("content") or "") + (json.dumps(m["tool_calls"]) if m.get("tool_calls") else "")
             for m in request.messages)
    return prompt_tokens(*texts) + text_tokens(request.json_schema or "") + text_tokens(request.tools or "")


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    reasoning: str | None = None
    provider: str = ""
    cost_usd: float | None = None  # None: no price known for the model
    cached: bool = False  # answered from the request cache: nothing was sent or paid this time
    parsed: Any = None  # the validated pydantic object, when a structured output was asked for
    # The functions the model called: {"id", "name", "arguments"}, arguments as the raw JSON text it wrote.
    tool_calls: tuple[dict[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        """No text, no reasoning and no call: an answer to ask again, never to keep."""
        return not (self.text.strip() or self.reasoning or self.tool_calls)


@dataclass(frozen=True)
class TeacherFailure:
    """A request that could not be answered; the row goes to the ledger with `reason`."""

    reason: str


# Send a batch of requests to a teacher (cached, rate-limited, budgeted by the engine); one result per request.
# What recipes and filters are given instead of a client.
Ask = Callable[[list[ChatRequest]], "list[Completion | TeacherFailure]"]


class TeacherError(UserError, RuntimeError):
    """A failure that retrying will not fix (bad key, unknown model, malformed request)."""


class CircuitOpen(TeacherError):
    """The endpoint failed every one of the last requests: the run stops early instead of failing row after row."""


class Unanswered(SynthfoundryError):
    """A request deliberately left unanswered (budget exhausted, invalid structured output); the message is the reason."""


_THINK = re.compile(r"\s*<think>(.*?)(?:</think>|\Z)\s*", re.DOTALL)


def split_reasoning(text: str) -> tuple[str, str | None]:
    """Split a leading `<think>...</think>` block off `text`, so reasoning never leaks into the answer.

    An unclosed block (generation cut off while thinking) is all reasoning and leaves no answer; an empty block
    (thinking switched off) gives no reasoning.
    """
    match = _THINK.match(text)
    if match is None:
        return text, None
    return text[match.end() :], match.group(1).strip() or None


class PerLoop(Generic[T]):
    """One async client per event loop.

    httpx connection pools belong to the loop that opened them, and every `complete_all` runs a fresh loop
    (in whichever thread calls it): a client reused from a closed loop fails with "Event loop is closed".
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        if loop not in self._by_loop:
            self._by_loop[loop] = self._factory()
        return self._by_loop[loop]


# Connections per SDK client. httpcore's pool scans all its connections for every request, so one pool of 1024
# costs more CPU per request than the request itself; several small pools used in turn keep each scan short.
CONNECTIONS_PER_CLIENT = 64


class ClientShards(Generic[T]):
    """The SDK clients of the running event loop (see PerLoop), enough of them to hold `max_connections`
    at CONNECTIONS_PER_CLIENT each, used in turn. `factory(size)` builds one client with a pool of `size`.

    `shared` (an injected http client, i.e. a test's mock transport) means a single client.
    """

    def __init__(self, factory: Callable[[int], T], max_connections: int, shared: bool = False) -> None:
        shards = 1 if shared else -(-max_connections // CONNECTIONS_PER_CLIENT)
        size = -(-max_connections // shards)
        self._clients: PerLoop[list[T]] = PerLoop(lambda: [factory(size) for _ in range(shards)])
        self._turn = itertools.count()

    def get(self) -> T:
        clients = self._clients.get()
        return clients[next(self._turn) % len(clients)]


class Teacher(Protocol):
    provider: str
    model: str
    base_url: str | None  # with provider and model, names where requests go (the cache key's identity)

    async def complete(self, request: ChatRequest) -> Completion: ...

    def params(self) -> dict: ...


@runtime_checkable
class BatchingTeacher(Protocol):
    """A teacher that can answer a whole lot at once through a provider's batch API (ManagedTeacher in batch mode)."""

    def batches(self, requests: Sequence[ChatRequest]) -> bool: ...

    async def complete_batch(self, requests: Sequence[ChatRequest]) -> list[Completion | TeacherFailure]: ...


# --- structured outputs: ask for JSON matching a pydantic model, validate it, ask again with the error ---

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)

FEEDBACK = (
    "That reply is not valid: {problem}. Reply again with only a JSON object that matches the schema, nothing else."
)


def schema_text(output: type[BaseModel]) -> str:
    """Canonical JSON so the same model always renders the same request (and cache key)."""
    return json.dumps(output.model_json_schema(), sort_keys=True, separators=(",", ":"))


def _problem(error: ValidationError) -> str:
    details = [f"{'.'.join(map(str, e['loc'])) or 'root'}: {e['msg']}" for e in error.errors()[:5]]
    return "; ".join(details)[:500]


async def complete_structured(
    teacher: Teacher, request: ChatRequest, output: type[BaseModel], attempts: int
) -> Completion:
    """Validate each answer into `output`; feed the validation error back, up to `attempts` requests in all.

    Every attempt is a plain request, so each is cached and billed like any other; the returned completion
    carries the tokens and cost of all attempts, which is what the row cost.
    """
    from pydantic import ValidationError

    request = replace(request, json_schema=schema_text(output))
    spent: list[Completion] = []
    for _ in range(attempts):
        completion = await teacher.complete(request)
        spent.append(completion)
        text = _FENCE.sub(r"\1", completion.text)
        try:
            parsed = output.model_validate_json(text)
        except ValidationError as error:
            problem = _problem(error)
        else:
            costs = [c.cost_usd for c in spent]
            return replace(
                completion,
                text=text,
                parsed=parsed,
                prompt_tokens=sum(c.prompt_tokens for c in spent),
                completion_tokens=sum(c.completion_tokens for c in spent),
                cost_usd=None if None in costs else sum(costs),
            )
        request = replace(
            request,
            messages=(
                *request.messages,
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": FEEDBACK.format(problem=problem)},
            ),
        )
    raise Unanswered(f"invalid structured output after {attempts} attempts: {problem}")


@dataclass
class BatchOutcome:
    results: list[Completion | TeacherFailure] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(isinstance(r, TeacherFailure) for r in self.results)


async def complete_many(
    teacher: Teacher,
    requests: Sequence[ChatRequest],
    max_in_flight: int = 16,
    output: type[BaseModel] | None = None,
    attempts: int = 3,
) -> BatchOutcome:
    """The async fan-out behind `complete_all`, for callers that already run an event loop.

    A teacher in batch mode takes the whole lot instead; structured outputs stay online, since each re-ask
    depends on the answer before it.
    """
    if output is None and isinstance(teacher, BatchingTeacher) and teacher.batches(requests):
        return BatchOutcome(await teacher.complete_batch(requests))
    gate = asyncio.Semaphore(max_in_flight)

    async def one(request: ChatRequest) -> Completion | TeacherFailure:
        async with gate:
            try:
                if output is not None:
                    return await complete_structured(teacher, request, output, attempts)
                return await teacher.complete(request)
            except TeacherError:
                raise
            except Unanswered as refusal:
                return TeacherFailure(str(refusal))
            except Exception as error:  # noqa: BLE001 - one row's failure must not sink the batch
                return TeacherFailure(redact(f"{type(error).__name__}: {error}", secrets))

    secrets = getattr(teacher, "secrets", ())
    return BatchOutcome(list(await asyncio.gather(*(one(r) for r in requests))))


def complete_all(
    teacher: Teacher,
    requests: Sequence[ChatRequest],
    max_in_flight: int = 16,
    output: type[BaseModel] | None = None,
    attempts: int = 3,
) -> BatchOutcome:
    """Answer a batch concurrently; per-request failures come back as `TeacherFailure`, fatal ones raise.

    With `output` (a pydantic model) every answer is validated into `Completion.parsed`; an invalid one is asked
    again with the validation error, up to `attempts` requests in all, then becomes a failure with the reason.
    """
    return asyncio.run(complete_many(teacher, requests, max_in_flight, output, attempts))
