"""OSS-Instruct (Magicoder, Wei et al. 2023): new programming problems inspired by seed code snippets.

Each drawn snippet goes to the teacher, who writes a self-contained problem inspired by it, a solution and assert
tests (`### Problem / ### Solution / ### Tests`). The solution runs against its own tests in the run's sandbox; a
failing one goes back to the teacher with the failure, up to `max_attempts` tries (KodCode's self-verification),
and tests that also pass a solution whose functions all return None are dropped. Rows: problem -> fenced verified
solution, the tests as `answer` for the `code_tests:python` verifier; everything else in the ledger with its reason.
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

NAME = "code_instruct"
VERSION = "1"
KIND = "code"
DISTILL = False  # the teacher writes the solution, and the sandbox checks it, in synthesis
ANSWERS = True  # every row's tests are its ground truth (code_tests:python)
RUNS_CODE = True  # synthesize gets the run's sandbox
EMBED_COLUMN = "instruction"
FILTERS = ({"name": "decontamination", "benchmarks": [humaneval().model_dump()]}, {"name": "diversity"})
PROBLEM = load_template(__package__, "problem")
FIX = load_template(__package__, "fix")
SOURCE_SUFFIXES = (".py",)
MAX_SNIPPET_CHARS = 3000


class Config(CodeConfig):
    """OSS-Instruct: a problem, solution and tests per seed snippet, kept when the solution passes its tests."""

    name: Literal["code_instruct"] = "code_instruct"
    snippets: Place | None = Field(
        default=None,
        description="seed code: a folder of .py files (each file one snippet) or a JSONL with a 'code' field per "
        "line; default: 42 functions of Python's standard library (shipped, PSF licence)",
    )
    seeds: int = Field(default=16, ge=1, description="snippets drawn at random, one problem each")


def shipped_snippets() -> Path:
    return Path(str(resources.files("synthfoundry") / "seeds" / "code_snippets" / "snippets.jsonl"))


def load_snippets(path: Place | Path | None) -> list[tuple[str, str]]:
    """(id, code) per snippet, at most MAX_SNIPPET_CHARS each; `path` a folder or a JSONL file, local or a URL."""
    import fsspec

    path = str(path or shipped_snippets())
    try:
        fs, base = fsspec.core.url_to_fs(path)
        folder, file = fs.isdir(base), fs.isfile(base)
        files = sorted(p for p in fs.find(base) if p.endswith(SOURCE_SUFFIXES)) if folder else []
        found = [(p[len(base):].lstrip("/"), fs.cat_file(p).decode(errors="replace")) for p in files]
    except Exception as error:  # noqa: BLE001 - a back end's own errors (no credentials, no endpoint, no package)
        raise SeedError(f"recipe.snippets: cannot read {path} ({type(error).__name__}: {error})") from None
    if file:
        found = [(row["id"], row["code"]) for row in read_seeds(path, "code snippets", SeedError, "code")]
    elif not folder:
        raise SeedError(f"recipe.snippets: {path} is neither a folder of .py files nor a JSONL file")
    found = [(name, code[:MAX_SNIPPET_CHARS]) for name, code in found if code.strip()]
    if not found:
        raise SeedError(f"recipe.snippets: {path} holds no code (give .py files or JSONL lines with 'code')")
    return found


def estimate(config: Config, sandbox: Sandbox | None = None) -> Estimate:
    """Each drawn snippet asks up to max_attempts times; a retry resends the conversation so far. (`sandbox`, given to
    every RUNS_CODE recipe: nothing runs before the teacher answers.)"""
    snippets = load_snippets(config.snippets)
    drawn = min(config.seeds, len(snippets))
    longest = max(len(code) for _, code in snippets)
    first = prompt_tokens(PROBLEM.render(snippet="x" * longest, min_tests=config.min_tests))
    return attempts_estimate(drawn, first, config, FIX)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log, sandbox: Sandbox | None = None) -> StageResult:
    snippets = load_snippets(config.snippets)
    snippets = rng.sample(snippets, min(config.seeds, len(snippets)))
    attempts = [
        Attempt(name, [{"role": "user", "content": PROBLEM.render(snippet=code, min_tests=config.min_tests)}], {})
        for name, code in snippets
    ]
    run_attempts(attempts, ask, sandbox or Sandbox(SandboxConfig()), config, FIX, lambda: rng.randrange(2**31), log)
    template_hash = combined_hash(PROBLEM, FIX)
    rows = [code_row(a, NAME, VERSION, template_hash, config, {"snippet": a.seed_id}) for a in attempts]
    return split(rows_frame(rows), "synthesis", pl.Series([a.reason for a in attempts], dtype=pl.String))

