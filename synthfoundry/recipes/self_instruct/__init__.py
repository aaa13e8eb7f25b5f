"""Self-Instruct (Wang et al. 2022): grow a pool of instructions from 175 human seed tasks.

Each prompt shows 8 in-context tasks (6 human + 2 generated once any exist); new instructions are parsed from the
model's continuation, screened, and kept only if their ROUGE-L to every pool member is at most the threshold.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Literal
from pathlib import Path

import polars as pl

from pydantic import BaseModel, ConfigDict, Field

from synthfoundry.filters.rouge import RougePool
from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.templates import load_template
from synthfoundry.records import content_id, rows_frame
from synthfoundry.stages import StageResult, combine, split
from synthfoundry.teachers.base import ChatRequest, Completion, TeacherFailure

NAME = "self_instruct"
VERSION = "1"
KIND = "sft"
DISTILL = True  # instructions only: the teacher answers them in the distillation stage
EMBED_COLUMN = "instruction"
TEMPLATE = load_template(__package__, "generate_instructions")
TEMPLATE_HASH = TEMPLATE.hash


class Config(BaseModel):
    """Self-Instruct (Wang et al. 2022) instruction bootstrapping from human seed tasks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["self_instruct"] = "self_instruct"
    seed_tasks: Path | None = Field(
        default=None, description="JSONL of seed tasks; default: the 175 human tasks shipped with the package"
    )
    target_instructions: int = Field(default=40, ge=1, description="stop once this many new instructions survive")
    prompts_per_round: int = Field(default=8, ge=1, description="generation prompts sent per round")
    max_rounds: int = Field(default=20, ge=1)
    human_in_context: int = Field(default=6, ge=1)
    generated_in_context: int = Field(default=2, ge=0)
    rouge_threshold: float = Field(default=0.7, gt=0, le=1, description="drop instructions with ROUGE-L above this")
    temperature: float = Field(default=0.8, ge=0, le=2, description="sampling temperature for new instructions")
    max_tokens: int = Field(default=256, ge=16, description="tokens per generation prompt")

# The paper's screen: tasks a text-only model cannot do, and degenerate lengths.
BLOCKED_WORDS = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps", "draw", "plot",
    "go to", "video", "audio", "music", "flowchart", "diagram",
)
_BLOCKED = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLOCKED_WORDS) + r")\b", re.IGNORECASE)
_TASK_LINE = re.compile(r"^\s*\**\s*(?:task\s*)?(\d+)\s*[:.)]\**\s*(.*)$", re.IGNORECASE)
_NOISE = re.compile(r"^(?:\s*(?:task\s*\S*\s*:|<instruction>|\*+))+\s*", re.IGNORECASE)


class SeedError(ValueError):
    """A seed file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class SeedTask:
    id: str
    instruction: str


def default_seed_path() -> Path:
    return Path(str(resources.files("synthfoundry") / "seeds" / "self_instruct" / "seed_tasks.jsonl"))


def load_seed_tasks(path: Path | None = None) -> list[SeedTask]:
    path = path or default_seed_path()
    tasks = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise SeedError(f"{path}: cannot read seed tasks ({error.strerror})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            instruction = item["instruction"].strip()
            task_id = str(item.get("id", f"line-{number}"))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise SeedError(f"{path}:{number}: expected a JSON object with an 'instruction' string ({error})") from None
        if not instruction:
            raise SeedError(f"{path}:{number}: empty instruction")
        tasks.append(SeedTask(task_id, instruction))
    if not tasks:
        raise SeedError(f"{path}: no seed tasks")
    return tasks


def render_prompt(examples: list[str]) -> str:
    listed = "".join(f"Task {i}: {text}\n" for i, text in enumerate(examples, start=1))
    return TEMPLATE.render(tasks=listed, next_index=len(examples) + 1)


def parse_instructions(text: str, first_index: int) -> list[str]:
    """The model continues the numbered list at `first_index`; read every task line it wrote.

    Small models often restart the numbering, so any numbered line counts; copies of the examples are
    caught later by the ROUGE-L filter.
    """
    found = []
    first, *rest = text.strip().splitlines() or [""]
    if not _TASK_LINE.match(first):  # the continuation starts right after "Task N:"
        rest.insert(0, f"Task {first_index}: {first}")
    else:
        rest.insert(0, first)
    for line in rest:
        match = _TASK_LINE.match(line)
        if match:
            instruction = _NOISE.sub("", match.group(2)).strip().strip('*"').strip()
            if instruction:
                found.append(instruction)
    return list(dict.fromkeys(found))


def screen(instruction: str) -> str | None:
    """Why an instruction is unusable, or None."""
    words = len(instruction.split())
    if words < 3:
        return "too short (< 3 words)"
    if words > 150:
        return "too long (> 150 words)"
    if _BLOCKED.search(instruction):
        return "needs a modality a text model lacks (blocked word)"
    if not instruction[0].isascii() or not instruction[0].isalnum():
        return "starts with punctuation or a non-ASCII character"
    return None


@dataclass(frozen=True)
class Prompt:
    request: ChatRequest
    seed_ids: tuple[str, ...]
    first_index: int


class SelfInstruct:
    """The bootstrapping state: human seeds, instructions generated so far, and the ROUGE-L pool."""

    def __init__(
        self,
        seeds: list[SeedTask],
        rng: random.Random,
        rouge_threshold: float = 0.7,
        human_in_context: int = 6,
        generated_in_context: int = 2,
    ) -> None:
        self.seeds = seeds
        self.generated: list[str] = []
        self.pool = RougePool(task.instruction for task in seeds)
        self.rng = rng
        self.rouge_threshold = rouge_threshold
        self.human_in_context = human_in_context
        self.generated_in_context = generated_in_context

    def prompts(self, count: int, temperature: float, max_tokens: int) -> list[Prompt]:
        out = []
        for _ in range(count):
            human = self.rng.sample(self.seeds, min(self.human_in_context, len(self.seeds)))
            generated = self.rng.sample(self.generated, min(self.generated_in_context, len(self.generated)))
            examples = [t.instruction for t in human] + generated
            request = ChatRequest(
                messages=({"role": "user", "content": render_prompt(examples)},),
                temperature=temperature,
                max_tokens=max_tokens,
                seed=self.rng.randrange(2**31),
            )
            out.append(Prompt(request, tuple(t.id for t in human), len(examples) + 1))
        return out

    def absorb(self, prompts: list[Prompt], outputs: list[Completion | TeacherFailure]) -> StageResult:
        """Parse, screen and ROUGE-filter one round's outputs; survivors join the pool and the generated list."""
        rows: list[dict] = []
        reasons: list[str | None] = []
        scores: list[float | None] = []
        for prompt, output in zip(prompts, outputs, strict=True):
            prompt_id = content_id(NAME, VERSION, TEMPLATE_HASH, prompt.request)
            if isinstance(output, TeacherFailure):
                rows.append(_candidate(prompt_id, prompt, "(generation prompt)"))
                reasons.append(f"teacher failed: {output.reason}")
                scores.append(None)
                continue
            instructions = parse_instructions(output.text, prompt.first_index)
            if not instructions:
                rows.append(_candidate(prompt_id, prompt, output.text[:500]))
                reasons.append("no instruction could be parsed from the output")
                scores.append(None)
            for instruction in instructions:
                rows.append(_candidate(content_id(NAME, VERSION, TEMPLATE_HASH, instruction), prompt, instruction))
                reason = screen(instruction)
                score = None
                if reason is None:
                    score = self.pool.admit(instruction, self.rouge_threshold)
                    if score > self.rouge_threshold:
                        reason = f"ROUGE-L {score:.2f} > {self.rouge_threshold} to an instruction in the pool"
                    else:
                        self.generated.append(instruction)
                reasons.append(reason)
                scores.append(score)
        frame = rows_frame(rows)
        return split(frame, "synthesis", pl.Series(reasons, dtype=pl.String), pl.Series(scores, dtype=pl.Float64))


def _candidate(row_id: str, prompt: Prompt, instruction: str) -> dict:
    return {
        "id": row_id,
        "recipe": NAME,
        "recipe_version": VERSION,
        "template_hash": TEMPLATE_HASH,
        "seed_ids": list(prompt.seed_ids),
        "instruction": instruction,
        "input": "",
    }


def generate(
    state: SelfInstruct,
    ask: Ask,
    target: int,
    prompts_per_round: int,
    max_rounds: int,
    temperature: float,
    max_tokens: int,
    log: Log = lambda _message: None,
) -> StageResult:
    """Run rounds until `target` new instructions survive or `max_rounds` is reached."""
    results = []
    for number in range(1, max_rounds + 1):
        if len(state.generated) >= target:
            break
        prompts = state.prompts(prompts_per_round, temperature, max_tokens)
        result = state.absorb(prompts, ask([p.request for p in prompts]))
        log(f"self-instruct round {number}: {result.counts['kept']} kept, {result.counts['dropped']} dropped, "
            f"{len(state.generated)}/{target} instructions")
        results.append(result)
    return combine(results)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    state = SelfInstruct(
        load_seed_tasks(config.seed_tasks),
        rng,
        rouge_threshold=config.rouge_threshold,
        human_in_context=config.human_in_context,
        generated_in_context=config.generated_in_context,
    )
    return generate(
        state, ask, config.target_instructions, config.prompts_per_round, config.max_rounds,
        config.temperature, config.max_tokens, log,
    )
