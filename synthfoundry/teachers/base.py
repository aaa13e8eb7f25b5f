"""What every teacher speaks: one chat request in, one completion out, failures as values not exceptions."""

from __future__ import annotations

import asyncio
import re
import weakref
from dataclasses import dataclass, field
from typing import Callable, Generic, Protocol, Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ChatRequest:
    """A fully rendered request: the unit that is sent, cached and billed."""

    messages: tuple[dict[str, str], ...]
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    reasoning: str | None = None


@dataclass(frozen=True)
class TeacherFailure:
    """A request that could not be answered; the row goes to the ledger with `reason`."""

    reason: str


class TeacherError(RuntimeError):
    """A failure that retrying will not fix (bad key, unknown model, malformed request)."""


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


class Teacher(Protocol):
    provider: str
    model: str

    async def complete(self, request: ChatRequest) -> Completion: ...

    def params(self) -> dict: ...


@dataclass
class BatchOutcome:
    results: list[Completion | TeacherFailure] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(isinstance(r, TeacherFailure) for r in self.results)


async def _complete_all(teacher: Teacher, requests: Sequence[ChatRequest], max_in_flight: int) -> BatchOutcome:
    gate = asyncio.Semaphore(max_in_flight)

    async def one(request: ChatRequest) -> Completion | TeacherFailure:
        async with gate:
            try:
                return await teacher.complete(request)
            except TeacherError:
                raise
            except Exception as error:  # noqa: BLE001 - one row's failure must not sink the batch
                return TeacherFailure(f"{type(error).__name__}: {error}")

    return BatchOutcome(list(await asyncio.gather(*(one(r) for r in requests))))


def complete_all(teacher: Teacher, requests: Sequence[ChatRequest], max_in_flight: int = 16) -> BatchOutcome:
    """Answer a batch concurrently; per-request failures come back as `TeacherFailure`, fatal ones raise."""
    return asyncio.run(_complete_all(teacher, requests, max_in_flight))
