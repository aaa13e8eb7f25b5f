"""Self-Instruct (Wang et al. 2022): grow a pool of instructions from 175 human seed tasks.

Each prompt shows 8 in-context tasks (6 human + 2 generated once any exist); new instructions are parsed from the
model's continuation, screened, and kept only if their ROUGE-L to every pool member is at most the threshold.

Once the pool is grown, as in the paper, each new instruction is labelled classification or not and gets one
instance (instances.py). The row's `input` is the instance's input; its `response` is still the teacher's answer to
instruction + input (distillation), while the generated output goes to `metadata.instance_output` for reference: it
is unverified model text, so it is not put in `answer` (reserved for verifiable ground truth).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from synthfoundry.inputs import Place
from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.common import user_request
from synthfoundry.recipes.self_instruct.instances import EXAMPLE_CHARS, LABEL_TOKENS, add_instances
from synthfoundry.recipes.self_instruct.prompts import CLASSIFY, INPUT_FIRST, OUTPUT_FIRST, TEMPLATE
from synthfoundry.recipes.self_instruct.seeds import SeedTask, load_seed_tasks
from synthfoundry.records import content_id, rows_frame
from synthfoundry.similarity.rouge import RougePool
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, combine, split
from synthfoundry.teachers.base import ChatRequest, Completion, TeacherFailure

NAME = "self_instruct"
VERSION = "1"
KIND = "sft"
DISTILL = True  # instructions only: the teacher answers them in the distillation stage
ANSWERS = False  # no ground truth a program can check
EMBED_COLUMN = "instruction"
FILTERS = ({"name": "quality_judge"}, {"name": "decontamination"}, {"name": "diversity"})  # default steps, in order
TEMPLATE_HASH = TEMPLATE.hash


class Config(BaseModel):
    """Self-Instruct (Wang et al. 2022) instruction bootstrapping from human seed tasks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["self_instruct"] = "self_instruct"
    seed_tasks: Place | None = Field(
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
    instances: bool = Field(
        default=True,
        description="identify classification tasks and generate an input for each new instruction (the paper's "
        "steps 2-3); off: instruction-only rows",
    )
    instance_examples: int = Field(
        default=4, ge=0, description="seed tasks shown in each classification and instance prompt"
    )
    instance_max_tokens: int = Field(default=128, ge=16, description="tokens per instance-generation prompt")

# The paper's screen: tasks a text-only model cannot do, and degenerate lengths.
BLOCKED_WORDS = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps", "draw", "plot",
    "go to", "video", "audio", "music", "flowchart", "diagram",
)
_BLOCKED = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLOCKED_WORDS) + r")\b", re.IGNORECASE)
_TASK_LINE = re.compile(r"^\s*\**\s*(?:task\s*)?(\d+)\s*[:.)]\**\s*(.*)$", re.IGNORECASE)
_NOISE = re.compile(r"^(?:\s*(?:task\s*\S*\s*:|<instruction>|\*+))+\s*", re.IGNORECASE)


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
            request = user_request(render_prompt(examples), temperature, max_tokens, self.rng)
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


def resized(config: Config, rows: int) -> Config:
    """This config for about `rows` new instructions, its rounds scaled alike (the teacher writes as many as asked)."""
    rounds = math.ceil(config.max_rounds * rows / config.target_instructions)
    return config.model_copy(update={"target_instructions": rows, "max_rounds": rounds})


def estimate(config: Config) -> Estimate:
    """At most max_rounds rounds of prompts_per_round generation prompts, each answer yielding at most one
    instruction per 4 tokens, rounds stopping once target_instructions survive; then one label and one instance
    request per instruction. Generated instructions are at most max_tokens long."""
    seeds = load_seed_tasks(config.seed_tasks)
    generated = "x" * 3 * config.max_tokens
    human = sorted((t.instruction for t in seeds), key=len)[-config.human_in_context:]
    examples = human + [generated] * config.generated_in_context
    generating = Estimate.asking(
        config.max_rounds * config.prompts_per_round, prompt_tokens(render_prompt(examples)), config.max_tokens
    )
    per_answer = config.max_tokens // 4 + 1
    rows = min(config.target_instructions - 1 + config.prompts_per_round * per_answer, generating.requests * per_answer)
    if not config.instances:
        return generating.passing(rows, config.max_tokens + 4)
    shown = "x" * (config.instance_examples * (max(map(len, (t.instruction for t in seeds))) + EXAMPLE_CHARS + 40)
                   + len(generated))
    labelling = Estimate.asking(rows, prompt_tokens(CLASSIFY.text, shown), LABEL_TOKENS)
    instance_template = max(INPUT_FIRST.text, OUTPUT_FIRST.text, key=len)
    instances = Estimate.asking(rows, prompt_tokens(instance_template, shown), config.instance_max_tokens)
    return (generating + labelling + instances).passing(rows, config.max_tokens + config.instance_max_tokens + 4)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    seeds = load_seed_tasks(config.seed_tasks)
    state = SelfInstruct(
        seeds,
        rng,
        rouge_threshold=config.rouge_threshold,
        human_in_context=config.human_in_context,
        generated_in_context=config.generated_in_context,
    )
    pool = generate(
        state, ask, config.target_instructions, config.prompts_per_round, config.max_rounds,
        config.temperature, config.max_tokens, log,
    )
    if not config.instances:
        return pool
    instances = add_instances(
        pool.kept, seeds, ask, rng, config.instance_examples, config.temperature, config.instance_max_tokens, log
    )
    return StageResult("synthesis", instances.kept, pl.concat([pool.dropped, instances.dropped]))
