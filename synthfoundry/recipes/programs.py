"""What the code recipes share: the teacher's problem / solution / tests reply, the sandbox check that keeps a
solution only when it passes its own tests (retried with the failure shown, as KodCode does), the mutant the tests
must reject, and the row.

A row is both an SFT pair (problem -> verified solution, fenced) and an RLVR prompt (the tests are its `answer`,
checked by the `code_tests:python` verifier), under the `code` contract.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from synthfoundry.inputs import Place, file_name, read_text
from synthfoundry.recipes.common import teacher_columns
from synthfoundry.recipes.templates import Template
from synthfoundry.records import content_id
from synthfoundry.sandbox import Sandbox
from synthfoundry.sandbox.code_tests import CodeTests
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.strict import Strict
from synthfoundry.teachers.base import Ask, ChatRequest, Completion, TeacherFailure

VERIFIER = "code_tests:python"
# A section header: `### Tests`, `**Solution:**`, `Test suite:`, `### Unit tests`; not a `# test` comment in the code.
_SECTION = re.compile(r"^[ \t]*(?:#{2,}[ \t]*|\*\*)?(problem|solution|(?:unit )?tests?)\b[ \t\w*:]{0,24}$",
                      re.IGNORECASE | re.MULTILINE)
_FENCE = re.compile(r"```[^\n`]*\n(.*?)(```|\Z)", re.DOTALL)  # a reply cut off leaves its last fence open


class CodeConfig(Strict):
    """The settings both code recipes share."""

    max_attempts: int = Field(default=3, ge=1, description="tries per problem: a failing solution is sent back to "
                                                            "the teacher with the failure (KodCode), up to this many")
    min_tests: int = Field(default=3, ge=1, description="drop problems whose tests hold fewer asserts than this")
    mutation_check: bool = Field(
        default=True, description="drop tests that also pass a wrong solution (every function returning None)"
    )
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=1024, ge=64, description="tokens per teacher reply")


@dataclass(frozen=True)
class Draft:
    problem: str
    solution: str
    tests: str


@dataclass
class Attempt:
    """One problem's conversation with the teacher and where it stands."""

    seed_id: str
    messages: list[dict]
    given: dict  # what the seed fixes: "problem" and/or "solution"
    outputs: list[Completion] = field(default_factory=list)
    draft: Draft | None = None
    reason: str | None = "not answered yet"
    detail: dict = field(default_factory=dict)


def read_seeds(path: Place | Path, what: str, error: type[ValueError], required: str) -> list[dict]:
    """A JSONL file's objects, each with a `required` string; `error` names the file and line of a bad one."""
    rows = []
    for number, line in enumerate(read_text(path, what, error).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as problem:
            raise error(f"{path}:{number}: not JSON ({problem})") from None
        if not isinstance(item, dict) or not isinstance(item.get(required), str) or not item[required].strip():
            raise error(f"{path}:{number}: expected a JSON object with a non-empty {required!r} string")
        rows.append({"id": str(item.get("id") or f"{file_name(path)}:{number}"), **item})
    if not rows:
        raise error(f"{path}: no {what} in the file")
    return rows


def sections(text: str) -> dict[str, str]:
    """The reply's `### Problem` / `### Solution` / `### Tests` sections, by lower-cased name ("test" -> "tests")."""
    parts = _SECTION.split(text)
    found = {}
    for name, body in zip(parts[1::2], parts[2::2]):  # the first of each (a small model's repeats come after)
        found.setdefault("tests" if "test" in name.lower() else name.lower(), body.strip())
    return found


def parse_draft(text: str, given: dict) -> Draft | str:
    """The draft, taking what the seed fixed (problem, solution) from `given`; else why the reply is unusable."""
    found = sections(text)
    problem = given.get("problem") or found.get("problem", "")
    code = {name: (_blocks(found.get(name, "")) or [found.get(name, "")])[-1].strip()
            for name in ("solution", "tests")}
    if not code["tests"]:  # no tests section: the tests written with the solution (a small model's way)
        rest, code["tests"] = _split_tests("\n".join(_blocks(text)))
        if "solution" not in found:
            code["solution"] = rest
    elif not _parses(code["tests"]):  # cut off mid-test: the tests that are whole
        code["tests"] = _whole(code["tests"])
    solution = given.get("solution") or code["solution"]
    missing = [name for name, value in (("problem", problem), ("solution", solution), ("tests", code["tests"]))
               if not value]
    if missing:
        return f"the reply has no {' and no '.join(missing)} section"
    return Draft(problem.strip(), solution.strip() + "\n", code["tests"] + "\n")


def _blocks(text: str) -> list[str]:
    """The fenced code blocks; a block the reply's end cut off loses its last line, which may be cut too (and still
    parse: `assert f(x) == [1, 2]` cut to `assert f(x)` is another test)."""
    return [body if closed else body.rpartition("\n")[0] for body, closed in _FENCE.findall(text)]


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def _whole(code: str) -> str:
    """The longest run of the code's first lines that parses (a reply cut off mid-test loses that test)."""
    lines = code.splitlines()
    return next(("\n".join(lines[:end]) for end in range(len(lines), 0, -1) if _parses("\n".join(lines[:end]))), "")


def _split_tests(code: str) -> tuple[str, str]:
    """Code holding a solution and its tests: (the solution, the tests), the tests being the top-level asserts,
    test functions and classes and the calls of them; line by line (the top-level asserts) when it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        lines = code.splitlines()
        return "\n".join(line for line in lines if not line.startswith("assert ")), "\n".join(_asserts(code))

    def is_test(node: ast.stmt) -> bool:
        called = node.value.func if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) else None
        name = getattr(node, "name", None) or getattr(called, "id", None) or ""
        return isinstance(node, ast.Assert) or name.lower().startswith("test")

    parts = {True: [], False: []}
    for node in tree.body:
        parts[is_test(node)].append(ast.get_source_segment(code, node))
    return "\n\n".join(parts[False]), "\n\n".join(parts[True])


def _asserts(code: str) -> list[str]:
    """The top-level assert lines that parse on their own (a reply cut off mid-line loses only its last)."""
    return [line for line in code.splitlines() if line.startswith("assert ") and _parses(line)]


def mutant(solution: str) -> str | None:
    """The solution with every function returning None at once: tests that pass it accept anything."""
    try:
        tree = ast.parse(solution)
    except SyntaxError:
        return None
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    for function in functions:
        function.body = [ast.Return(ast.Constant(None))]
    return ast.unparse(tree) if functions else None


def count_asserts(tests: str) -> int:
    """`assert` statements and unittest's `self.assert...(...)` calls."""
    try:
        return sum(isinstance(node, ast.Assert) or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                                                    and node.func.attr.startswith("assert"))
                   for node in ast.walk(ast.parse(tests)))
    except SyntaxError:
        return 0


def attempts_estimate(drawn: int, first_prompt: int, config: CodeConfig, fix: Template) -> Estimate:
    """`drawn` problems asking up to max_attempts times each; a retry resends the conversation so far."""
    retry = first_prompt + config.max_tokens + prompt_tokens(fix.text) + 64
    total = Estimate.asking(drawn, first_prompt, config.max_tokens)
    if config.max_attempts > 1:
        total += Estimate.asking(drawn * (config.max_attempts - 1), retry * config.max_attempts, config.max_tokens)
    return total.passing(drawn, config.max_tokens)


def run_attempts(attempts: list[Attempt], ask: Ask, sandbox: Sandbox, config: CodeConfig, fix: Template,
                 seed: Callable[[], int], log: Callable[[str], None]) -> None:
    """Ask, parse and test every open attempt, up to `max_attempts` rounds; a failing one gets its failure back."""
    checker = CodeTests("python", sandbox)
    open_ = list(attempts)
    for round_ in range(1, config.max_attempts + 1):
        requests = [ChatRequest(messages=tuple(a.messages), temperature=config.temperature,
                                max_tokens=config.max_tokens, seed=seed()) for a in open_]
        for attempt, output in zip(open_, ask(requests), strict=True):
            if isinstance(output, TeacherFailure):
                attempt.reason, attempt.draft = f"teacher failed: {output.reason}", None
                continue
            attempt.outputs.append(output)
            attempt.messages.append({"role": "assistant", "content": output.text})
            draft = parse_draft(output.text, attempt.given)
            attempt.draft, attempt.reason = (None, draft) if isinstance(draft, str) else (draft, None)
        answered = [a for a in open_ if a.draft is not None]
        with ThreadPoolExecutor(sandbox.config.concurrency) as pool:
            reasons = list(pool.map(lambda a: _check(a.draft, checker, config), answered))
        for attempt, (reason, detail) in zip(answered, reasons, strict=True):
            attempt.reason, attempt.detail = reason, {**detail, "attempts": round_}
        retry = [a for a in open_ if a.reason and a.outputs and not a.reason.startswith("teacher failed")]
        log(f"code round {round_}: {sum(a.reason is None for a in attempts)} of {len(attempts)} pass their tests, "
            f"{len(retry)} sent back")
        for attempt in retry:
            attempt.messages.append({"role": "user", "content": fix.render(reason=attempt.reason)})
        open_ = retry
        if not open_:
            break


def _check(draft: Draft, checker: CodeTests, config: CodeConfig) -> tuple[str | None, dict]:
    tests = count_asserts(draft.tests)
    if tests < config.min_tests:
        return f"only {tests} assert(s) in the tests (min_tests {config.min_tests})", {"tests": tests}
    answer = {"tests": draft.tests}
    verdict = checker.check(draft.solution, answer)
    if verdict.score < 1.0:
        return f"the solution fails its tests: {verdict.reason}", {"tests": tests}
    if config.mutation_check:
        wrong = mutant(draft.solution)
        if wrong is not None and checker.check(wrong, answer).score == 1.0:
            return "the tests accept a wrong solution (every function returning None)", {"tests": tests}
    return None, {"tests": tests, "reference_passes": True, "mutant_rejected": config.mutation_check}


def code_row(attempt: Attempt, recipe: str, version: str, template_hash: str, config: CodeConfig,
             metadata: dict) -> dict:
    """A candidate row: kept when `attempt.reason` is None (the ledger's text is the problem, or the seed)."""
    draft = attempt.draft
    problem = draft.problem if draft else attempt.given.get("problem") or attempt.messages[0]["content"][:2000]
    row = {
        "id": content_id(recipe, version, template_hash, attempt.seed_id, problem, draft and draft.solution),
        "recipe": recipe,
        "recipe_version": version,
        "template_hash": template_hash,
        "seed_ids": [attempt.seed_id],
        "instruction": problem,
        "input": "",
        "response": f"```python\n{draft.solution}```" if draft else None,
        "answer": json.dumps({"tests": draft.tests}) if draft else None,
        "verifier": VERIFIER,
        "metadata": json.dumps({**metadata, **attempt.detail}),
    }
    if attempt.outputs:
        row |= teacher_columns(attempt.outputs, config.temperature, config.max_tokens)
    return row
