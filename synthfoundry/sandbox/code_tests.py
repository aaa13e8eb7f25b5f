"""The `code_tests:<language>` verifier: run the response's program against the row's tests in the sandbox.

`row["answer"]` is JSON, one of:
  {"tests": "<code>", "entry_point": "<name>"}   HumanEval: the tests define check(candidate), called with the function
  {"tests": "<code>"}                            top-level asserts (each one a test), else pytest-style test_* functions
                                                 and the test methods of unittest.TestCase classes
  {"cases": [{"stdin": "...", "stdout": "..."}]} competitive programming: each case one run, stdout compared by line
The program is the last fenced code block of the response, else the whole response. Score = share of tests passed;
`check` also names the first failure (`test 2 of 3 failed: AssertionError at line 4`, `timeout after 5 s`).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from synthfoundry.sandbox.core import ExecResult, Sandbox, shared_sandbox
from synthfoundry.verdicts import Verifier, VerifierError

_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
_SYNTAX = re.compile(r'File "[^"]*", line (\d+)(?:(?!File ").)*?\n(?:SyntaxError|IndentationError|TabError)', re.DOTALL)

# Runs the candidate then the tests in one process, one result line per test, each behind a nonce read from stdin
# before the candidate runs (so a candidate that prints a fake result line, or exits early, does not pass).
_HARNESS = r'''
import json, sys, traceback, types

CALLS = []  # with spec["record"]: what each call the tests make returns (calls inside the program not counted)


def recording(name, function, depth=[0]):
    def recorded(*args, **kwargs):
        depth[0] += 1
        try:
            result = function(*args, **kwargs)
        except BaseException as error:
            if depth[0] == 1:
                CALLS.append(f"{name} raised {type(error).__name__}")
            raise
        finally:
            depth[0] -= 1
        if depth[0] == 0:
            CALLS.append(f"{name} -> {repr(result)[:500]}")
        return result
    return recorded


def _run(nonce, spec):
    solution, tests = open("solution.py").read(), spec["tests"]

    def report(ok, error=""):
        print("\n" + nonce + json.dumps({"ok": ok, "error": error}), flush=True)

    def describe(error):
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == "tests.py"]
        where = f" at line {lines[-1]}" if lines else ""
        message = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        return f"{type(error).__name__}{where}" + (f": {message}" if message else "")

    namespace = {"__name__": "solution"}
    try:
        code = compile(solution, "solution.py", "exec")
    except SyntaxError as error:
        print("\n" + nonce + json.dumps({"syntax": error.lineno}), flush=True)
        return
    try:
        exec(code, namespace)
    except BaseException as error:
        print("\n" + nonce + json.dumps({"crash": "the program raised " + describe(error)}), flush=True)
        return
    if spec.get("record"):
        for name, value in list(namespace.items()):
            if isinstance(value, types.FunctionType) and value.__code__.co_filename == "solution.py":
                namespace[name] = recording(name, value)
    if spec.get("entry_point"):
        try:
            exec(compile(tests, "tests.py", "exec"), namespace)
            namespace["check"](namespace[spec["entry_point"]])
            report(True)
        except BaseException as error:
            report(False, describe(error))
        return
    import ast
    tree = ast.parse(tests, "tests.py")
    asserts = [node for node in tree.body if isinstance(node, ast.Assert)]
    for node in tree.body:
        try:
            exec(compile(ast.Module([node], []), "tests.py", "exec"), namespace)
            if node in asserts:
                report(True)
        except BaseException as error:
            if node not in asserts:
                print("\n" + nonce + json.dumps({"crash": "the tests raised " + describe(error)}), flush=True)
                return
            report(False, describe(error))
    if not asserts:
        for name, test in list(namespace.items()):
            if name.startswith("test_") and callable(test) and not isinstance(test, type):
                try:
                    test()
                    report(True)
                except BaseException as error:
                    report(False, describe(error))
            elif isinstance(test, type) and any(base.__name__ == "TestCase" for base in test.__mro__[1:]):
                import unittest
                for method in unittest.TestLoader().getTestCaseNames(test):
                    try:
                        case = test(method)
                        case.setUp()
                        getattr(case, method)()
                        case.tearDown()
                        report(True)
                    except BaseException as error:
                        report(False, describe(error))

_nonce = sys.stdin.readline().strip()
_spec = json.loads(open("spec.json").read())
_run(_nonce, _spec)
if _spec.get("record"):
    print("\n" + _nonce + json.dumps({"outputs": CALLS}), flush=True)
'''


@dataclass(frozen=True)
class Outputs:
    """A program's results on the tests' inputs, in order: what majority voting compares code samples on."""

    values: tuple[str, ...]

    def __str__(self) -> str:
        digest = hashlib.sha256("\n".join(self.values).encode()).hexdigest()[:8]
        return f"outputs {digest} ({len(self.values)} results)"


@dataclass(frozen=True)
class CodeVerdict:
    score: float  # share of tests passed
    reason: str  # the first failure, in words; "" when every test passed
    passed: int
    total: int


class CodeTests(Verifier):
    """Scores a program by the row's tests, run in the sandbox it is given (a default one when none is)."""

    def __init__(self, language: str = "python", sandbox: Sandbox | None = None):
        self.language = language
        self._sandbox = sandbox

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:  # on first use: `verify(response, row)` callers (verl) pass no sandbox
            self._sandbox = shared_sandbox()
        return self._sandbox

    # -- the Verifier protocol of synthfoundry.verify ----------------------------------------------------------

    def extract(self, response: str) -> str | None:
        """The last fenced code block, else the whole response."""
        blocks = _FENCE.findall(response)
        program = blocks[-1] if blocks else response
        return program if program.strip() else None

    def agree(self, first: Outputs, second: Outputs) -> bool:
        return first == second

    def score(self, found: str, row: Mapping[str, Any]) -> float:
        return self.check(found, row["answer"]).score

    def grade(self, found: str, row: Mapping[str, Any]) -> tuple[float, str]:
        verdict = self.check(found, row["answer"])
        return verdict.score, verdict.reason

    def outcome(self, found: str, row: Mapping[str, Any]) -> Outputs | None:
        """What the program does on the tests' inputs: two samples agree when they return (or print) the same;
        None when it produced nothing (a syntax error, a crash before any test)."""
        return self.outputs(found, row["answer"])

    def show(self, found: str | Outputs) -> str:
        return str(found)

    # -- running the tests -------------------------------------------------------------------------------------

    def check(self, program: str, answer: str | Mapping[str, Any]) -> CodeVerdict:
        spec = _spec(answer)
        if "cases" in spec:
            return self._cases(program, spec["cases"])
        nonce = secrets.token_hex(16)
        files = {"solution.py": program, "spec.json": json.dumps(spec)}
        result = self.sandbox.run(_HARNESS, self.language, stdin=nonce + "\n", files=files)
        lines = [json.loads(line[len(nonce):]) for line in result.stdout.splitlines() if line.startswith(nonce)]
        if lines and "syntax" in lines[0]:
            return CodeVerdict(0.0, f"syntax error at line {lines[0]['syntax']}", 0, 1)
        if lines and "crash" in lines[0]:
            return CodeVerdict(0.0, lines[0]["crash"], 0, 1)
        total = 1 if spec.get("entry_point") else max(_count_tests(spec["tests"]), len(lines), 1)
        passed = sum(line["ok"] for line in lines)
        if passed == total:
            return CodeVerdict(1.0, "", passed, total)
        failed = next((index for index, line in enumerate(lines) if not line["ok"]), None)
        if failed is None:  # the process ended (timeout, memory, crash) before every test reported
            reason = result.reason or "the tests did not all run"
        else:
            reason = f"test {failed + 1} of {total} failed: {lines[failed]['error']}"
        return CodeVerdict(passed / total, reason, passed, total)

    def outputs(self, program: str, answer: str | Mapping[str, Any]) -> Outputs | None:
        spec = _spec(answer)
        if "cases" in spec:
            results = self._run_cases(program, spec["cases"])
            values = tuple("\n".join(_lines(r.stdout)) if r.passed else f"({r.status})" for r in results)
            return None if all(r.status == "error" for r in results) else Outputs(values)
        nonce = secrets.token_hex(16)
        files = {"solution.py": program, "spec.json": json.dumps({**spec, "record": True})}
        result = self.sandbox.run(_HARNESS, self.language, stdin=nonce + "\n", files=files)
        lines = [json.loads(line[len(nonce):]) for line in result.stdout.splitlines() if line.startswith(nonce)]
        calls = next((line["outputs"] for line in lines if "outputs" in line), None)
        return Outputs(tuple(calls)) if calls else None

    def _run_cases(self, program: str, cases: list[Mapping[str, str]]) -> list[ExecResult]:
        with ThreadPoolExecutor(min(len(cases), self.sandbox.config.concurrency)) as pool:
            return list(pool.map(lambda case: self.sandbox.run(program, self.language, stdin=case.get("stdin", "")),
                                 cases))

    def _cases(self, program: str, cases: list[Mapping[str, str]]) -> CodeVerdict:
        results = self._run_cases(program, cases)
        outcomes = [_case_failure(result, case) for result, case in zip(results, cases, strict=True)]
        passed = outcomes.count("")
        reason = next((f"test {index + 1} of {len(cases)} failed: {why}"
                       for index, why in enumerate(outcomes) if why), "")
        if reason and (syntax := _SYNTAX.search(results[0].stderr)):
            reason = f"syntax error at line {syntax.group(1)}"
        elif reason and all(result.status == "timeout" for result in results):
            reason = results[0].reason
        return CodeVerdict(passed / len(cases), reason, passed, len(cases))


def _case_failure(result: ExecResult, case: Mapping[str, str]) -> str:
    if result.status != "passed":
        last = result.stderr.strip().splitlines()[-1:] or [result.reason]
        return result.reason if result.status != "failed" else last[0][:200]
    expected, got = _lines(case.get("stdout", "")), _lines(result.stdout)
    return "" if expected == got else f"expected {_short(expected)}, got {_short(got)}"


def _lines(text: str) -> list[str]:
    """Output as judges compare it: trailing spaces and trailing blank lines do not count."""
    return [line.rstrip() for line in text.rstrip().splitlines()]


def _short(lines: list[str]) -> str:
    text = "\n".join(lines)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _count_tests(tests: str) -> int:
    """How many tests the code holds (top-level asserts, else test_* functions), counted without running it."""
    import ast

    try:
        tree = ast.parse(tests)
    except SyntaxError:
        return 1
    asserts = sum(isinstance(node, ast.Assert) for node in tree.body)
    functions = sum(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
                    for node in tree.body)
    methods = sum(isinstance(node, ast.FunctionDef) and node.name.startswith("test")
                  for test_case in tree.body if isinstance(test_case, ast.ClassDef) for node in test_case.body)
    return asserts or functions + methods


def _spec(answer: str | Mapping[str, Any]) -> dict[str, Any]:
    try:
        spec = json.loads(answer) if isinstance(answer, str) else dict(answer)
    except json.JSONDecodeError as error:
        raise VerifierError(f"code_tests: the row's answer is not JSON ({error})") from None
    cases = spec.get("cases")
    if isinstance(spec.get("tests"), str) or (isinstance(cases, list) and cases
                                              and all(isinstance(case, Mapping) for case in cases)):
        return spec
    raise VerifierError('code_tests: the answer must be {"tests": "<code>", "entry_point": "<name>"}, '
                        '{"tests": "<assert code>"} or {"cases": [{"stdin": "...", "stdout": "..."}]}')
