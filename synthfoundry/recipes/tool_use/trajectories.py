"""One tool-use conversation as it grows: the teacher's calls checked (format, schema), run, answered, and why it
stopped when it did. `converse` advances every waiting conversation one assistant step per batch."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synthfoundry.distill import why_unusable
from synthfoundry.teachers.base import Ask, ChatRequest, Completion, TeacherFailure
from synthfoundry.tools import Call, Outcome, Tool, Toolset
from synthfoundry.tools.calls import parse_call, schema_problem

if TYPE_CHECKING:
    from synthfoundry.recipes.tool_use import Config

PARALLEL = ("parallel", "parallel_multiple")


@dataclass
class Trajectory:
    category: str
    tools: tuple[Tool, ...]
    seed: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[Completion] = field(default_factory=list)
    first_calls: list[Call] | None = None  # the first step's verified calls: the row's ground truth
    pending: list[Call] = field(default_factory=list)  # this step's calls, to be run
    turn_calls: list[int] = field(default_factory=list)  # calls per step in the current user turn
    steps: int = 0
    broken: str | None = None  # the ledger reason, once the conversation cannot be used

    @property
    def waiting(self) -> bool:
        """The assistant's turn: a user message or tool results are the last thing said."""
        return self.broken is None and bool(self.messages) and self.messages[-1]["role"] in ("user", "tool")

    @property
    def schemas(self) -> str:
        return json.dumps([tool.schema() for tool in self.tools], sort_keys=True, ensure_ascii=False)

    def request(self, temperature: float, max_tokens: int) -> ChatRequest:
        seed = (self.seed + self.steps) % 2**31
        return ChatRequest(tuple(self.messages), temperature=temperature, max_tokens=max_tokens, seed=seed,
                           tools=self.schemas)

    def ask_user(self, text: str | None, why: str | None) -> None:
        if why is None and not text:
            why = "no request in the output"
        if why is not None:
            self.broken = f"request: {why}"
        else:
            self.messages.append({"role": "user", "content": text})
            self.turn_calls = []

    def take(self, output: Completion | TeacherFailure, drop_truncated: bool = True) -> bool:
        """Read one assistant step; True when it made calls to run now."""
        if isinstance(output, Completion):
            self.outputs.append(output)
        if isinstance(output, TeacherFailure) or not output.tool_calls:
            self._answer(output, drop_truncated)
            return False
        self.steps += 1
        names = ", ".join(c["name"] for c in output.tool_calls)
        if self.category == "irrelevance":
            self.broken = f"irrelevance: called {names} though no tool fits the request"
            return False
        offered = {tool.name: tool for tool in self.tools}
        calls = []
        for raw in output.tool_calls:
            call = parse_call(raw)
            problem = call if isinstance(call, str) else schema_problem(call, offered)
            if problem is not None:
                self.broken = problem
                return False
            calls.append(call)
        ids = [f"call_{self.steps}_{index}" for index in range(len(calls))]
        self.messages.append({"role": "assistant", "content": output.text or None, "tool_calls": [
            {"id": id_, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for id_, c in zip(ids, calls, strict=True)]})
        if self.first_calls is None:
            self.first_calls = calls
        self.pending = calls
        self.turn_calls.append(len(calls))
        return True

    def _answer(self, output: Completion | TeacherFailure, drop_truncated: bool) -> None:
        why = why_unusable(output, drop_truncated)
        if why is None and self.category != "irrelevance" and not self.turn_calls:
            why = f"category: the {self.category} request was answered without calling a tool"
        elif why is None and self.category in PARALLEL and max(self.turn_calls) < 2:
            why = f"category: the {self.category} request was answered one call at a time"
        if why is not None:
            self.broken = why if why.startswith("category") else f"answer: {why}"
        else:
            self.messages.append({"role": "assistant", "content": output.text.strip()})

    def results(self, outcomes: list[Outcome]) -> None:
        """The step's results as tool messages; a call that failed makes the trajectory unusable (APIGen's
        execution check: a row teaching a failing call is not kept)."""
        calls = self.messages[-1]["tool_calls"]
        for call, outcome in zip(calls, outcomes, strict=True):
            if not outcome.ok:
                self.broken = f"execution: {call['function']['name']}: {outcome.error}"[:500]
                return
            self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": outcome.content})
        self.pending = []


def converse(trajectories: list[Trajectory], ask: Ask, toolset: Toolset, config: Config) -> None:
    """Up to `max_steps` assistant steps (the final answer included), one batch per step, until every trajectory
    has answered or broken; each step's calls run together (one sandboxed program per trajectory step)."""
    for _ in range(config.max_steps):
        waiting = [t for t in trajectories if t.waiting]
        if not waiting:
            break
        outputs = ask([t.request(config.temperature, config.max_tokens) for t in waiting])
        running = [t for t, output in zip(waiting, outputs, strict=True) if t.take(output, config.drop_truncated)]
        for trajectory, outcomes in zip(running, toolset.run([t.pending for t in running]), strict=True):
            trajectory.results(outcomes)
    for trajectory in trajectories:
        if trajectory.waiting:
            trajectory.broken = f"steps: no final answer within {config.max_steps} assistant steps"
