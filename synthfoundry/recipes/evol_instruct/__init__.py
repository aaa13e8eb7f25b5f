"""Evol-Instruct (WizardLM, Xu et al. 2023): make seed instructions more complex, generation after generation.

Each generation evolves every current instruction once with an operation drawn at random: in-depth (add
constraints, deepen, concretize, increase reasoning steps, complicate the input) or in-breadth (a new, rarer
instruction of the same domain). The paper's elimination step drops failed evolutions to the ledger with the reason:
the prompt's own wording left in ("#Rewritten Prompt#"), a copy of the prompt, too short, not more complex (an
in-depth rewrite no longer than its prompt, or judged "Equal" to it by the teacher; an unclear verdict keeps it),
or a duplicate. A failed evolution leaves its parent to be evolved again in the next generation. The paper's
response-based checks ("sorry", stop words only) need the answer, which distillation writes later; its filters
cover empty and truncated answers.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from synthfoundry.inputs import Place
from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.common import user_request
from synthfoundry.recipes.self_instruct.seeds import load_seed_tasks
from synthfoundry.recipes.templates import Template, combined_hash, load_template
from synthfoundry.records import content_id, rows_frame
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, combine, split
from synthfoundry.teachers.base import ChatRequest, TeacherFailure

NAME = "evol_instruct"
VERSION = "1"
KIND = "sft"
DISTILL = True  # evolved instructions only: the teacher answers them in the distillation stage
ANSWERS = False  # no ground truth a program can check
EMBED_COLUMN = "instruction"
FILTERS = ({"name": "decontamination"}, {"name": "diversity"})  # default filter steps, in order

Operation = Literal["add_constraints", "deepen", "concretize", "increase_reasoning", "complicate_input", "in_breadth"]
IN_DEPTH_OPERATIONS = ("add_constraints", "deepen", "concretize", "increase_reasoning", "complicate_input")
OPERATIONS: tuple[Operation, ...] = (*IN_DEPTH_OPERATIONS, "in_breadth")
IN_DEPTH = load_template(__package__, "in_depth")
IN_BREADTH = load_template(__package__, "in_breadth")
JUDGE = load_template(__package__, "judge_equality")
METHODS = {operation: load_template(__package__, f"method_{operation}") for operation in IN_DEPTH_OPERATIONS}
# The paper's "complicate input" adds structured data of one of these kinds.
DATA_FORMATS = ("XML data", "SQL database", "Python code", "HTML page", "Shell command", "JSON data", "LaTeX",
                "Markdown table", "C++ code")
_JUDGE_TOKENS = 8
_UNANSWERED = "(evolution prompt)"  # the ledger text of an evolution the teacher failed to answer

# A section label the model echoes from the prompt: "#The Given Prompt#:", "**Rewritten Prompt:**", ...
_LABEL = re.compile(
    r"^[\s*#\"]*(?:the\s+)?(given|rewritten|created)\s+prompt[ \t*#]*(?::|$)[\s*]*", re.IGNORECASE | re.MULTILINE
)
_LEFTOVER = re.compile(r"\b(?:given|rewritten|created)\s+prompt\b|\bprompt\s+(?:rewriter|creator)\b", re.IGNORECASE)
_VERDICT = re.compile(r"\b(not\s+equal|unequal|equal)\b", re.IGNORECASE)


class Config(BaseModel):
    """Evol-Instruct (WizardLM): in-depth and in-breadth evolution of seed instructions over generations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["evol_instruct"] = "evol_instruct"
    seed_tasks: Place | None = Field(
        default=None,
        description="JSONL with an 'instruction' per line; default: the 175 human Self-Instruct tasks",
    )
    seeds: int = Field(default=8, ge=1, description="seed instructions drawn at random to evolve")
    generations: int = Field(default=3, ge=1, description="rounds of evolution (the paper used 4)")
    operations: list[Operation] = Field(
        default=list(OPERATIONS), min_length=1, description="operations drawn from, uniformly, for each evolution"
    )
    judge: bool = Field(
        default=True, description="ask the teacher whether each evolution equals its prompt (the paper's check)"
    )
    min_words: int = Field(default=5, ge=1, description="drop evolved instructions shorter than this")
    drop_prompt_wording: bool = Field(
        default=True,
        description="drop evolutions that contain the evolution prompt's wording ('#Rewritten Prompt#', 'given "
        "prompt'); turn off only for a tiny local model that cannot help echoing it",
    )
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=256, ge=16, description="tokens per evolution prompt")


@dataclass(frozen=True)
class Instruction:
    """One member of the evolving population: a seed (generation 0) or a kept evolution."""

    id: str
    text: str
    seed_id: str
    generation: int


@dataclass(frozen=True)
class Evolution:
    parent: Instruction
    operation: str
    templates: tuple[Template, ...]
    request: ChatRequest
    data_format: str | None = None


def render_evolution(prompt: str, operation: str, data_format: str | None = None) -> str:
    if operation == "in_breadth":
        return IN_BREADTH.render(prompt=prompt)
    method = METHODS[operation].render(data_format=data_format).strip()
    return IN_DEPTH.render(method=method, prompt=prompt)


def parse_evolution(text: str) -> str:
    """The evolved instruction: what follows the last "#Rewritten Prompt#:" (or "#Created Prompt#:") label the
    model echoed, up to the next label, without wrapping quotes; the whole reply when it has no such label."""
    sections = _LABEL.split(text)  # [before, name, body, name, body, ...]
    answers = [body for name, body in zip(sections[1::2], sections[2::2]) if name.lower() != "given"]
    return (answers[-1] if answers else sections[0]).strip().strip('"').strip()


def eliminate(evolved: str, parent: str, operation: str, min_words: int, drop_wording: bool = True) -> str | None:
    """Why an evolution failed (the paper's elimination, minus the response-based checks), or None."""
    if not evolved:
        return "no instruction could be parsed from the output"
    if drop_wording and _LEFTOVER.search(evolved):
        return "contains the evolution prompt's own wording (e.g. #Rewritten Prompt#)"
    if _normal(evolved) in _normal(parent):
        return "copies the prompt it evolves"
    words = len(evolved.split())
    if words < min_words:
        return f"too short (< {min_words} words)"
    if operation in IN_DEPTH_OPERATIONS and words <= len(parent.split()):
        return "not more complex: an in-depth evolution no longer than the prompt it evolves"
    return None


def render_judge(first: str, second: str) -> str:
    return JUDGE.render(first=first, second=second)


def parse_judgement(text: str) -> bool | None:
    """True when the teacher judged the two prompts equal, False when not equal, None when it said neither."""
    match = _VERDICT.search(text)
    return None if match is None else match.group(1).lower() == "equal"


def _normal(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def plan(parent: Instruction, operation: str, rng: random.Random, temperature: float, max_tokens: int) -> Evolution:
    data_format = rng.choice(DATA_FORMATS) if operation == "complicate_input" else None
    templates = (IN_BREADTH,) if operation == "in_breadth" else (IN_DEPTH, METHODS[operation])
    content = render_evolution(parent.text, operation, data_format)
    return Evolution(parent, operation, templates, user_request(content, temperature, max_tokens, rng), data_format)


def evolve_generation(
    parents: list[Instruction],
    generation: int,
    ask: Ask,
    rng: random.Random,
    config: Config,
    seen: set[str],
) -> tuple[StageResult, list[Instruction]]:
    """Evolve every parent once; returns the generation's rows and the next population.

    `seen` holds the normalised text of every instruction so far (seeds included), so no evolution repeats one.
    """
    evolutions = [plan(p, rng.choice(config.operations), rng, config.temperature, config.max_tokens) for p in parents]
    outputs = ask([e.request for e in evolutions])
    texts: list[str] = []
    reasons: list[str | None] = []
    for evolution, output in zip(evolutions, outputs, strict=True):
        if isinstance(output, TeacherFailure):
            texts.append(_UNANSWERED)
            reasons.append(f"teacher failed: {output.reason}")
            continue
        text = parse_evolution(output.text)
        reason = eliminate(
            text, evolution.parent.text, evolution.operation, config.min_words, config.drop_prompt_wording
        )
        if reason is None and _normal(text) in seen:
            reason = "duplicate of an instruction already in the run"
        if reason is None:
            seen.add(_normal(text))
        texts.append(text or output.text[:500])
        reasons.append(reason)

    verdicts: list[bool | None] = [None] * len(evolutions)
    if config.judge:
        judged = [i for i, reason in enumerate(reasons) if reason is None]
        prompts = [render_judge(evolutions[i].parent.text, texts[i]) for i in judged]
        verdict_outputs = ask([user_request(prompt, 0.0, _JUDGE_TOKENS, rng) for prompt in prompts])
        for i, output in zip(judged, verdict_outputs, strict=True):
            if isinstance(output, TeacherFailure):
                reasons[i] = f"teacher failed judging: {output.reason}"
                continue
            verdicts[i] = parse_judgement(output.text)
            if verdicts[i]:
                reasons[i] = "not more complex: the teacher judged it equal to the prompt it evolves"

    rows = []
    for evolution, text, verdict in zip(evolutions, texts, verdicts):
        templates = evolution.templates + ((JUDGE,) if config.judge else ())
        template_hash = combined_hash(*templates)
        rows.append({
            "id": content_id(NAME, VERSION, template_hash, text if text != _UNANSWERED else evolution.request),
            "recipe": NAME,
            "recipe_version": VERSION,
            "template_hash": template_hash,
            "seed_ids": [evolution.parent.seed_id],
            "instruction": text,
            "input": "",
            "metadata": json.dumps({
                "operation": evolution.operation,
                "generation": generation,
                "parent_id": evolution.parent.id,
                "data_format": evolution.data_format,
                "judged_equal": verdict,
            }),
        })
    frame = rows_frame(rows)
    result = split(frame, "synthesis", pl.Series(reasons, dtype=pl.String))
    following = [
        Instruction(row["id"], row["instruction"], evolution.parent.seed_id, generation)
        if reason is None else evolution.parent
        for evolution, row, reason in zip(evolutions, rows, reasons)
    ]
    return result, following


def estimate(config: Config) -> Estimate:
    """Every seed evolves once per generation (and is judged when `judge`); a parent is a seed or an evolution,
    at most max_tokens long."""
    tasks = load_seed_tasks(config.seed_tasks)
    evolutions = min(config.seeds, len(tasks)) * config.generations
    parent = "x" * max(max(len(t.instruction) for t in tasks), 3 * config.max_tokens)
    longest_format = max(DATA_FORMATS, key=len)
    evolve = max(prompt_tokens(render_evolution(parent, op, longest_format)) for op in config.operations)
    total = Estimate.asking(evolutions, evolve, config.max_tokens)
    if config.judge:
        total += Estimate.asking(evolutions, prompt_tokens(render_judge(parent, parent)), _JUDGE_TOKENS)
    return total.passing(evolutions, config.max_tokens + 4)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    tasks = load_seed_tasks(config.seed_tasks)
    population = [Instruction(t.id, t.instruction, t.id, 0) for t in rng.sample(tasks, min(config.seeds, len(tasks)))]
    seen = {_normal(p.text) for p in population}
    results = []
    for generation in range(1, config.generations + 1):
        result, population = evolve_generation(population, generation, ask, rng, config, seen)
        operations = Counter(json.loads(m)["operation"] for m in result.kept["metadata"])
        log(f"evol-instruct generation {generation}: {result.counts['kept']} kept, {result.counts['dropped']} "
            f"eliminated; kept by operation: {dict(operations.most_common())}")
        results.append(result)
    return combine(results)
