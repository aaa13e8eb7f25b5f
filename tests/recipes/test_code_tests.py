import json
import random
from pathlib import Path

import pytest
import yaml

from synthfoundry.recipes import code_tests
from synthfoundry.recipes.programs import Draft, count_asserts, mutant, parse_draft
from synthfoundry.sandbox import Sandbox, SandboxConfig
from synthfoundry.sandbox.code_tests import CodeTests
from synthfoundry.teachers.config import TeacherConfig
from tests.fakes.code_replies import TASKS
from tests.filters.tools import ask_through
from tests.helpers import assert_accounted, read_published


def problem(task, behaviour, solution=None):
    line = {"id": task, "problem": f"{TASKS[task][0]}\n# task: {task}\n# script: {behaviour}"}
    return {**line, "solution": solution} if solution else line


def test_tests_are_kept_only_when_the_reference_passes_them(tmp_path):
    from tests.fakes.code_replies import code_reply
    from tests.fakes.provider_server import ProviderServer

    problems = [problem("double", "good", TASKS["double"][1]),  # given reference, good tests
                problem("clamp", "good", TASKS["clamp"][2]),  # given a wrong reference: the tests reject it
                problem("evens", "fixed"),  # no reference: the teacher's passes on the second try
                problem("vowels", "weak")]  # tests that accept anything
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in problems))
    config = code_tests.Config(problems=path, max_attempts=2)
    with ProviderServer(reply=code_reply) as server:
        ask = ask_through(TeacherConfig(provider="openai", base_url=server.base_url, model="fake-coder"))
        result = code_tests.synthesize(config, ask, random.Random(0), print, Sandbox(SandboxConfig(timeout_s=5)))
    kept = {json.loads(m)["problem"]: m for m in result.kept["metadata"]}
    assert set(kept) == {"double", "evens"}
    assert json.loads(kept["double"])["solution_given"] and json.loads(kept["evens"])["attempts"] == 2
    assert all(list(json.loads(answer)) == ["tests"] for answer in result.kept["answer"])
    assert sorted(result.dropped["reason"]) == [
        "the solution fails its tests: test 1 of 3 failed: AssertionError at line 1",
        "the tests accept a wrong solution (every function returning None)",
    ]
    assert code_tests.estimate(config).requests == 4 * 2


ADD = "def add(a, b):\n    return a + b\n"


def test_drafts_and_mutants():
    reply = "Sure.\n**Problem:**\nAdd.\n\n### Solution\n```python\ndef add(a, b):\n    return a + b\n```\n## Tests\n" \
            "```python\nassert add(1, 2) == 3\n```"
    draft = parse_draft(reply, {})
    assert (draft.problem, draft.solution, draft.tests) == ("Add.", "def add(a, b):\n    return a + b\n",
                                                           "assert add(1, 2) == 3\n")
    assert parse_draft("### Tests\n```python\nassert True\n```", {}) == "the reply has no problem and no solution section"
    assert mutant(draft.solution) == "def add(a, b):\n    return None"
    cut_off = "```python\ndef add(a, b):\n    return a + b\n# test\nassert add(1, 1) == 2\nassert add(2,"  # a small model
    assert parse_draft(cut_off, {"problem": "Add."}).tests == "assert add(1, 1) == 2\n"
    cut_to_another_test = "### Tests\n```python\nassert add(1, 1) == 2\nassert add(2, 2)"  # was `== 4`, or `== 5`
    assert parse_draft(cut_to_another_test, {"problem": "Add.", "solution": ADD}).tests == "assert add(1, 1) == 2\n"
    test_case = "class TestAdd(unittest.TestCase):\n    def test_one(self):\n        assert add(1, 1) == 2\n"
    repeated = f"### Tests\n```python\n{test_case}    def test_two(self):\n        assert add(2,\n```\n### Tests\n```python\n"
    assert parse_draft(repeated, {"problem": "Add.", "solution": ADD}).tests == test_case  # the first, whole tests
    together = "```python\ndef add(a, b):\n    return a + b\n\ndef test_add():\n    assert add(1, 2) == 3\n\ntest_add()\n```"
    assert parse_draft(together, {"problem": "Add."}) == Draft(
        "Add.", ADD, "def test_add():\n    assert add(1, 2) == 3\n\ntest_add()\n")
    assert count_asserts(test_case.replace("assert add(1, 1) == 2", "self.assertEqual(add(1, 1), 2)")) == 1
    assert mutant("print(1)") is None and mutant("def (") is None


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_run_with_the_local_model_publishes_rows_that_pass_their_tests(tmp_path):
    """Plumbing with the packaged SmolLM2-135M (teacher, sandbox, contract) through the flow, every bar kept: on the
    shipped problems that come with a reference solution, it writes tests the reference passes and a solution
    returning None fails for a few of them (mostly the example call in the problem's statement, copied into an
    assert); those publish, and pass their tests when checked again; the rest are in the run's ledger."""
    from flows.generate import generate_dataset

    with_solutions = [line for line in code_tests.shipped_problems().read_text().splitlines() if '"solution"' in line]
    (tmp_path / "problems.jsonl").write_text("\n".join(with_solutions) + "\n")
    config = {"dataset": "code", "seed": 1, "publish": {"root": str(tmp_path / "published")},
              "recipe": {"name": "code_tests", "problems": str(tmp_path / "problems.jsonl"), "min_tests": 1,
                         "max_attempts": 2, "max_tokens": 160, "temperature": 0.2},
              "teacher": {"provider": "local", "max_tokens": 160}, "filters": [{"name": "diversity"}],
              "sandbox": {"timeout_s": 5}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    state = generate_dataset(config_path=str(tmp_path / "run.yaml"), return_state=True)
    assert state.is_completed(), state.message
    published = read_published(Path(state.result()))
    assert published.data.height >= 1
    assert_accounted(published)
    checker = CodeTests(sandbox=Sandbox(SandboxConfig(timeout_s=5)))
    for row in published.data.to_dicts():
        solution = checker.extract(row["response"])
        assert checker.check(solution, row["answer"]).score == 1.0
        assert checker.check(mutant(solution), row["answer"]).score < 1.0
        assert json.loads(row["metadata"])["solution_given"]
