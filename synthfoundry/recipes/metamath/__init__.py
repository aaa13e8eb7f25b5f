"""MetaMath (Yu et al. 2023): bootstrap new maths questions from verified ones, each with its ground truth.

From a seed question with a known answer (GSM8K train, shipped):
  answer_augmentation   the question itself, answered again: new reasoning paths
  rephrase              the teacher rephrases the question; same answer
  self_verification     a number is masked with X, the teacher states the answer as a fact; the answer is X
  fobar                 the masked question + "If we know the answer ... is A, what is the value of X?"; the answer is X
The teacher then answers every derived question `samples_per_question` times (the samples of one question share
`sample_of`); the `correctness` filter, first in the default list, keeps a path only if its final answer verifies
against the ground truth (math-verify), one per question since the sft contract wants unique instructions.
KIND is "sft": the response is the verified reasoning. Every row carries `answer` and `verifier`, so it also serves as an RLVR prompt; with `output: rlvr` the
recipe stops after deriving questions and publishes them, with their ground truth, as an RLVR dataset.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synthfoundry.distill import why_unusable
from synthfoundry.inputs import Place, SeedError, file_name, read_text
from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.common import first_line, teacher_columns, user_request
from synthfoundry.recipes.templates import Template, combined_hash, load_template
from synthfoundry.records import content_id, rows_frame
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, split
from synthfoundry.teachers.base import ChatRequest, Completion, TeacherFailure
from synthfoundry.verify import MATH_VERIFY

NAME = "metamath"
VERSION = "1"
KIND = "sft"
DISTILL = False  # the recipe answers its questions itself, to verify each reasoning path
ANSWERS = True  # every row carries its answer and verifier
EMBED_COLUMN = "instruction"
FILTERS = (
    {"name": "correctness", "one_per_prompt": True}, {"name": "decontamination"}, {"name": "diversity"}
)  # default filter steps, in order
REPHRASE = load_template(__package__, "rephrase")
SELF_VERIFICATION = load_template(__package__, "self_verification")
FOBAR = load_template(__package__, "fobar")
ANSWER = load_template(__package__, "answer")
ASK_FOR_X = " What is the value of unknown variable X?"

Operation = Literal["answer_augmentation", "rephrase", "self_verification", "fobar"]
OPERATIONS: tuple[Operation, ...] = ("answer_augmentation", "rephrase", "self_verification", "fobar")
# The template that builds each operation's question (None: the seed question as is), then the answer template.
_BUILDERS: dict[str, Template | None] = {
    "answer_augmentation": None, "rephrase": REPHRASE, "self_verification": SELF_VERIFICATION, "fobar": FOBAR,
}


class Config(BaseModel):
    """MetaMath (Yu et al. 2023) question bootstrapping from verified maths Q/A, with verified reasoning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["metamath"] = "metamath"
    seeds: Place | None = Field(
        default=None,
        description="JSONL of {question, answer} (answer ends with '#### <final answer>' or is the final answer); "
        "default: GSM8K train, shipped",
    )
    seed_questions: int = Field(default=20, ge=1, description="seed questions drawn from the file")
    operations: tuple[Operation, ...] = Field(
        default=OPERATIONS, min_length=1, description="how to derive questions from each seed"
    )
    samples_per_question: int = Field(
        default=2, ge=1, description="reasoning paths sampled per derived question; the first that verifies is kept"
    )
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=256, ge=16, description="tokens per rewrite and per reasoning path")
    output: Literal["sft", "rlvr"] = Field(
        default="sft",
        description="sft: questions with verified reasoning; rlvr: the derived questions with their ground truth "
        "only (no reasoning paths, so nothing to verify: RL prompts for a trainer that generates its own)",
    )

    @field_validator("operations")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) < len(value):
            raise ValueError("lists an operation twice")
        return value

    @model_validator(mode="after")
    def _rlvr_needs_new_questions(self) -> Config:
        if self.output == "rlvr" and "answer_augmentation" in self.operations:
            raise ValueError("answer_augmentation makes reasoning paths, not questions: drop it for output: rlvr")
        return self

    @property
    def kind(self) -> str:
        """The dataset kind, and so the default contract, follows the output."""
        return self.output

    @property
    def filters(self) -> tuple[dict, ...]:
        """Questions alone (rlvr) have no reasoning to verify."""
        return FILTERS if self.output == "sft" else FILTERS[1:]


@dataclass(frozen=True)
class Seed:
    id: str
    question: str
    answer: str  # the final answer only


def default_seed_path() -> Path:
    return Path(str(resources.files("synthfoundry") / "seeds" / "gsm8k" / "train.jsonl"))


def final_answer(solution: str) -> str:
    """GSM8K's reference solutions end with '#### <answer>'; thousands separators are dropped."""
    _, marker, after = solution.rpartition("####")
    return (after if marker else solution).strip().replace(",", "")


def load_seeds(path: Place | Path | None = None) -> list[Seed]:
    path = path or default_seed_path()
    lines = read_text(path, "seed questions", SeedError).splitlines()
    seeds = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question, answer = item["question"].strip(), final_answer(str(item["answer"]))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise SeedError(f"{path}:{number}: expected a JSON object with 'question' and 'answer' ({error})") from None
        if not question or not answer:
            raise SeedError(f"{path}:{number}: empty question or answer")
        seeds.append(Seed(str(item.get("id", f"{file_name(path).split('.')[0]}:{number}")), question, answer))
    if not seeds:
        raise SeedError(f"{path}: no seed questions")
    return seeds


_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?![\w]|\.\d)")


def mask_number(question: str, rng: random.Random) -> tuple[str, str] | None:
    """(question with one number replaced by X, that number); only numbers that occur once, so X is unambiguous."""
    found = list(_NUMBER.finditer(question))
    counts = Counter(m.group() for m in found)
    once = [m for m in found if counts[m.group()] == 1]
    if not once:
        return None
    chosen = rng.choice(once)
    return question[: chosen.start()] + "X" + question[chosen.end() :], chosen.group().replace(",", "")


@dataclass
class Derived:
    """A question derived from a seed by one operation, with its ground truth and what building it cost."""

    seed: Seed
    operation: str
    answer: str
    question: str | None = None
    why: str | None = None  # why no question could be built
    outputs: list[Completion] = field(default_factory=list)

    @property
    def template_hash(self) -> str:
        builder = _BUILDERS[self.operation]
        return combined_hash(builder, ANSWER) if builder else ANSWER.hash


def derive(seeds: list[Seed], config: Config, ask: Ask, rng: random.Random) -> list[Derived]:
    """Every operation on every seed; the two that need the teacher (rephrase, self-verification) in one batch."""
    derived: list[Derived] = []
    rewrites: list[tuple[Derived, ChatRequest]] = []
    for seed in seeds:
        for operation in config.operations:
            if operation in ("answer_augmentation", "rephrase"):
                item = Derived(seed, operation, seed.answer, seed.question)
                if operation == "rephrase":
                    prompt = REPHRASE.render(question=seed.question)
                    rewrites.append((item, user_request(prompt, config.temperature, config.max_tokens, rng)))
            elif (masked := mask_number(seed.question, rng)) is None:
                item = Derived(seed, operation, "", why="no number that occurs once in the question to mask")
            else:
                question, number = masked
                item = Derived(seed, operation, number)
                if operation == "fobar":
                    item.question = FOBAR.render(question=question, answer=seed.answer)
                else:
                    prompt = SELF_VERIFICATION.render(question=question, answer=seed.answer)
                    rewrites.append((item, user_request(prompt, config.temperature, config.max_tokens, rng)))
            derived.append(item)
    outputs = ask([request for _, request in rewrites]) if rewrites else []
    for (item, _), output in zip(rewrites, outputs, strict=True):
        item.question, item.why = _rewritten(item.operation, output)
        if isinstance(output, Completion):
            item.outputs.append(output)
    return derived


def _rewritten(operation: str, output: Completion | TeacherFailure) -> tuple[str | None, str | None]:
    """(derived question, None) from a rephrase or self-verification rewrite, or (None, why not)."""
    why = why_unusable(output, drop_truncated=False)
    if why is not None:
        return None, f"{operation}: {why}"
    text = first_line(output.text)
    if text is None:
        return None, f"{operation}: no question in the output"
    if operation == "rephrase":
        return text, None
    if not re.search(r"\bX\b", text):
        return None, "self_verification: the statement lost the unknown X"
    return text.rstrip() + ASK_FOR_X, None


def solve(derived: list[Derived], config: Config, ask: Ask, rng: random.Random) -> StageResult:
    """Answer each derived question `samples_per_question` times in one batch; the correctness filter verifies them."""
    ready = [d for d in derived if d.question is not None]
    jobs = [(d, k) for d in ready for k in range(config.samples_per_question)]
    requests = [user_request(ANSWER.render(question=d.question), config.temperature, config.max_tokens, rng) for d, _ in jobs]
    outputs = ask(requests) if jobs else []

    unbuilt = [_row(d, None) for d in derived if d.question is None]
    answered = []
    for (d, k), output in zip(jobs, outputs, strict=True):
        row = _row(d, k)
        if isinstance(output, Completion):
            provenance = teacher_columns([*d.outputs, output], config.temperature, config.max_tokens)
            row |= {"response": output.text.strip(), **provenance}
        answered.append(row)
    reasons = [d.why for d in derived if d.question is None] + [why_unusable(o, drop_truncated=False) for o in outputs]
    return split(rows_frame(unbuilt + answered), "synthesis", pl.Series(reasons, dtype=pl.String))


def questions_only(derived: list[Derived]) -> StageResult:
    """RLVR output: each derived question with its ground truth; the trainer's policy writes the reasoning."""
    reasons = pl.Series([d.why for d in derived], dtype=pl.String)
    built = split(rows_frame([_row(d, None) for d in derived]), "synthesis", reasons)
    unique = _one_per_question(built.kept, "the same question was derived before")
    return StageResult("synthesis", unique.kept, pl.concat([built.dropped, unique.dropped]))


def _one_per_question(frame: pl.DataFrame, reason: str) -> StageResult:
    """The sft and rlvr contracts want unique instructions: later rows with the same question go to the ledger."""
    firsts = frame["instruction"].str.strip_chars().str.to_lowercase().is_first_distinct()
    return split(frame, "synthesis", pl.Series([None if f else reason for f in firsts], dtype=pl.String))


def _row(d: Derived, sample: int | None) -> dict:
    return {
        "id": content_id(NAME, VERSION, d.template_hash, d.seed.id, d.operation, d.question, sample),
        "recipe": NAME,
        "recipe_version": VERSION,
        "template_hash": d.template_hash,
        "seed_ids": [d.seed.id],
        "instruction": d.question or f"({d.operation} of: {d.seed.question})",
        "input": "",
        "answer": d.answer or None,
        "verifier": MATH_VERIFY,
        "metadata": json.dumps({"operation": d.operation, "sample": sample}),
        "sample_of": content_id(NAME, VERSION, d.template_hash, d.seed.id, d.operation, d.question),
    }


def estimate(config: Config) -> Estimate:
    """A rewrite per seed for each of rephrase and self-verification, then (sft) `samples_per_question`
    answers per derived question; a derived question is at most a FOBAR prompt or a rewrite of max_tokens."""
    pool = load_seeds(config.seeds)
    seeds = min(config.seed_questions, len(pool))
    longest = max(pool, key=lambda s: len(s.question) + len(s.answer))
    rewriting = [op for op in config.operations if op in ("rephrase", "self_verification")]
    rewrite = max(
        [prompt_tokens(t.render(question=longest.question, answer=longest.answer)) for t in (REPHRASE, SELF_VERIFICATION)]
    )
    derived = max(len(FOBAR.render(question=longest.question, answer=longest.answer)), 3 * config.max_tokens)
    questions = seeds * len(config.operations)
    total = Estimate.asking(seeds * len(rewriting), rewrite, config.max_tokens)
    if config.output == "rlvr":
        return total.passing(questions)
    answers = questions * config.samples_per_question
    solving = Estimate.asking(answers, prompt_tokens(ANSWER.render(question="x" * derived)), config.max_tokens)
    return (total + solving).passing(answers)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    pool = load_seeds(config.seeds)
    seeds = rng.sample(pool, min(config.seed_questions, len(pool)))
    derived = derive(seeds, config, ask, rng)
    log(f"metamath: {sum(d.question is not None for d in derived)} of {len(derived)} questions derived "
        f"from {len(seeds)} seeds")
    if config.output == "rlvr":
        result = questions_only(derived)
        log(f"metamath: {result.counts['kept']} questions with ground truth kept, {result.counts['dropped']} dropped")
        return result
    result = solve(derived, config, ask, rng)
    log(f"metamath: {result.counts['kept']} reasoning paths to verify, {result.counts['dropped']} dropped")
    return result
