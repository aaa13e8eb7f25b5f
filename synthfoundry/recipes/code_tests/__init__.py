"""Tests for programming problems (KodCode-style verification): problems in, verified problem + solution + tests out.

Each problem (a JSONL line with `problem` and, optionally, a reference `solution`) goes to the teacher, who writes
assert tests (and a solution when the line has none). The solution must pass the tests in the run's sandbox; a
failure goes back to the teacher with its reason, up to `max_attempts` tries; tests that also pass a solution
whose functions all return None accept anything and are dropped. Rows: problem -> fenced verified solution, the
tests as `answer` (`code_tests:python`); every other problem in the ledger with its reason.
"""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from synthfoundry.benchmarks import humaneval
from synthfoundry.inputs import Place, SeedError
from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.programs import Attempt, CodeConfig, attempts_estimate, code_row, read_seeds, run_attempts
from synthfoundry.recipes.templates import combined_hash, load_template
from synthfoundry.records import rows_frame
from synthfoundry.sandbox import Sandbox, SandboxConfig
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, split

NAME = "code_tests"
VERSION = "1"
KIND = "code"
DISTILL = False  # the solution is given or written here, and checked in the sandbox
ANSWERS = True  # every row's tests are its ground truth (code_tests:python)
RUNS_CODE = True  # synthesize gets the run's sandbox
EMBED_COLUMN = "instruction"
FILTERS = ({"name": "decontamination", "benchmarks": [humaneval().model_dump()]}, {"name": "diversity"})
TESTS = load_template(__package__, "tests")
FIX = load_template(__package__, "fix")
_TESTS_SECTION = "### Tests\n```python\nat least {min_tests} assert statements that call the function\n```"
_SOLUTION_SECTION = "### Solution\n```python\nthe function, using only the Python standard library\n```\n\n"


class Config(CodeConfig):
    """Tests (and, where missing, solutions) for given problems, kept when the solution passes them."""

    name: Literal["code_tests"] = "code_tests"
    problems: Place | None = Field(
        default=None,
        description="JSONL with a 'problem' (and optionally a reference 'solution' and an 'id') per line; default: "
        "20 shipped function problems, 12 with solutions",
    )
    seeds: int | None = Field(default=None, ge=1, description="problems drawn at random; default: all")


def shipped_problems() -> Path:
    return Path(str(resources.files("synthfoundry") / "seeds" / "code_problems" / "problems.jsonl"))


def load_problems(path: Place | Path | None) -> list[dict]:
    return read_seeds(path or shipped_problems(), "problems", SeedError, "problem")


def render(problem: dict, min_tests: int) -> str:
    tests = _TESTS_SECTION.format(min_tests=min_tests)
    if problem.get("solution"):
        return TESTS.render(problem=problem["problem"], what="unit tests for it: the reference solution must pass "
                            "them and a wrong solution must not", sections=tests,
                            given_solution=f"\nIts reference solution:\n```python\n{problem['solution']}\n```\n")
    return TESTS.render(problem=problem["problem"], what="a solution and unit tests for it",
                        sections=_SOLUTION_SECTION + tests, given_solution="")


def estimate(config: Config, sandbox: Sandbox | None = None) -> Estimate:
    """Each drawn problem asks up to max_attempts times; a retry resends the conversation so far. (`sandbox`, given to
    every RUNS_CODE recipe: nothing runs before the teacher answers.)"""
    problems = load_problems(config.problems)
    drawn = min(config.seeds or len(problems), len(problems))
    first = max(prompt_tokens(render(p, config.min_tests)) for p in problems)
    return attempts_estimate(drawn, first, config, FIX)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log, sandbox: Sandbox | None = None) -> StageResult:
    problems = load_problems(config.problems)
    problems = rng.sample(problems, min(config.seeds or len(problems), len(problems)))
    attempts = [
        Attempt(p["id"], [{"role": "user", "content": render(p, config.min_tests)}],
                {"problem": p["problem"], **({"solution": p["solution"]} if p.get("solution") else {})})
        for p in problems
    ]
    run_attempts(attempts, ask, sandbox or Sandbox(SandboxConfig()), config, FIX, lambda: rng.randrange(2**31), log)
    template_hash = combined_hash(TESTS, FIX)
    rows = [code_row(a, NAME, VERSION, template_hash, config, {"problem": a.seed_id,
                                                              "solution_given": "solution" in a.given})
            for a in attempts]
    return split(rows_frame(rows), "synthesis", pl.Series([a.reason for a in attempts], dtype=pl.String))
