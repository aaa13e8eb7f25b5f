"""UltraChat (Ding et al. 2023): multi-turn conversations grown from a taxonomy, with a simulated user.

(meta-concept, material type) pairs from a shipped, editable taxonomy -> an opening question per pair -> 3-7 rounds
in which the teacher answers as the assistant and, with a second prompt, writes the user's next message.
Conversations advance turn by turn together, so each turn of every conversation is one batch to the teacher.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthfoundry.distill import why_unusable
from synthfoundry.inputs import Place, SeedError, load_yaml
from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.common import first_line, teacher_columns
from synthfoundry.recipes.templates import combined_hash, load_template
from synthfoundry.records import content_id, rows_frame
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, split
from synthfoundry.teachers.base import ChatRequest, Completion, TeacherFailure

NAME = "ultrachat"
VERSION = "1"
KIND = "chat"
DISTILL = False  # the recipe runs the whole conversation, assistant turns included
ANSWERS = False  # no ground truth a program can check
EMBED_COLUMN = "instruction"
FILTERS = ({"name": "decontamination"}, {"name": "diversity"})  # default filter steps, in order
OPENING = load_template(__package__, "opening_question")
USER_TURN = load_template(__package__, "user_turn")
TEMPLATE_HASH = combined_hash(OPENING, USER_TURN)


class Config(BaseModel):
    """UltraChat (Ding et al. 2023): taxonomy-seeded multi-turn conversations with a simulated user."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["ultrachat"] = "ultrachat"
    taxonomy: Place | None = Field(
        default=None,
        description="YAML with `meta_concepts` and `material_types` lists; default: the 30 x 20 taxonomy shipped",
    )
    conversations: int = Field(default=20, ge=1, description="conversations to start, one per (concept, material)")
    min_turns: int = Field(default=3, ge=1, description="fewest user/assistant rounds in a conversation")
    max_turns: int = Field(default=7, ge=1, description="most rounds; each conversation draws its length in between")
    temperature: float = Field(default=0.8, ge=0, le=2, description="sampling temperature for every turn")
    max_tokens: int = Field(default=256, ge=16, description="tokens per turn")
    drop_truncated: bool = Field(default=True, description="ledger a conversation whose turn is cut at max_tokens")

    @model_validator(mode="after")
    def _turns_in_order(self) -> Config:
        if self.min_turns > self.max_turns:
            raise ValueError(f"min_turns ({self.min_turns}) is more than max_turns ({self.max_turns})")
        return self


@dataclass(frozen=True)
class Taxonomy:
    meta_concepts: tuple[str, ...]
    material_types: tuple[str, ...]


def default_taxonomy_path() -> Path:
    return Path(str(resources.files(__package__) / "taxonomy.yaml"))


def load_taxonomy(path: Place | Path | None = None) -> Taxonomy:
    path = path or default_taxonomy_path()
    data = load_yaml(path, "the taxonomy", SeedError)
    lists = {}
    for key in ("meta_concepts", "material_types"):
        items = data.get(key) if isinstance(data, dict) else None
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
            raise SeedError(f"{path}: `{key}` must be a non-empty list of strings")
        lists[key] = tuple(dict.fromkeys(i.strip() for i in items))
    return Taxonomy(**lists)


def draw_pairs(taxonomy: Taxonomy, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """`count` (concept, material) pairs covering the grid evenly: every pair once before any repeats."""
    grid = [(c, m) for c in taxonomy.meta_concepts for m in taxonomy.material_types]
    pairs: list[tuple[str, str]] = []
    while len(pairs) < count:
        pairs.extend(rng.sample(grid, len(grid)))
    return pairs[:count]


def render_opening(concept: str, material: str) -> str:
    return OPENING.render(concept=concept, material=material.lower())


def render_user_turn(concept: str, material: str, messages: list[dict[str, str]]) -> str:
    transcript = "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)
    return USER_TURN.render(concept=concept, material=material.lower(), transcript=transcript)


_SPEAKER = re.compile(r"^\s*\**\s*(?:user|assistant|ai|human)\s*(?::\s*\**|\**\s*:)", re.IGNORECASE)


def parse_turn(text: str) -> str:
    """A turn's text without a speaker label, cut where the model starts writing the other speaker's turn."""
    lines = text.strip().splitlines()
    if lines and _SPEAKER.match(lines[0]):
        lines[0] = _SPEAKER.sub("", lines[0], count=1)
    for index, line in enumerate(lines[1:], start=1):
        if _SPEAKER.match(line):
            lines = lines[:index]
            break
    return "\n".join(lines).strip().strip('"“”').strip()


@dataclass
class Conversation:
    concept: str
    material: str
    rounds: int
    seed: int
    messages: list[dict[str, str]] = field(default_factory=list)
    outputs: list[Completion] = field(default_factory=list)
    broken: str | None = None  # why the conversation stopped early

    @property
    def active(self) -> bool:
        return self.broken is None and sum(m["role"] == "assistant" for m in self.messages) < self.rounds

    def add(self, role: str, output: Completion | TeacherFailure, text: str | None, why: str | None) -> None:
        """Append a turn, or mark the conversation broken at it."""
        turn = sum(m["role"] == "user" for m in self.messages) + (role == "user")
        if isinstance(output, Completion):
            self.outputs.append(output)
        if why is None and not text:
            why = "nothing left after removing labels"
        if why is not None:
            self.broken = f"turn {turn} ({role}): {why}"
        else:
            self.messages.append({"role": role, "content": text})


def _request(messages: list[dict[str, str]], config: Config, seed: int) -> ChatRequest:
    return ChatRequest(tuple(messages), temperature=config.temperature, max_tokens=config.max_tokens, seed=seed)


def open_conversations(
    config: Config, ask: Ask, rng: random.Random, pairs: list[tuple[str, str]]
) -> list[Conversation]:
    """One opening question per pair; a pair whose question failed, or repeats one, starts broken."""
    conversations = [
        Conversation(concept, material, rng.randint(config.min_turns, config.max_turns), rng.randrange(2**31))
        for concept, material in pairs
    ]
    requests = [
        _request([{"role": "user", "content": render_opening(c.concept, c.material)}], config, c.seed)
        for c in conversations
    ]
    seen: set[str] = set()
    for conversation, output in zip(conversations, ask(requests), strict=True):
        why = why_unusable(output, drop_truncated=False)
        question = first_line(output.text) if why is None else None
        if why is None and question is None:
            why = "no question in the output"
        elif question is not None and question.lower() in seen:
            why, question = f"duplicate opening question: {question}", None
        conversation.add("user", output, question, why)
        if question is not None:
            seen.add(question.lower())
    return conversations


def advance(conversations: list[Conversation], role: str, config: Config, ask: Ask, turn: int) -> None:
    """Every active conversation's next `role` turn, in one batch."""
    active = [c for c in conversations if c.active]
    if not active:
        return
    requests = []
    for c in active:
        seed = (c.seed + 2 * turn + (role == "user")) % 2**31
        if role == "assistant":
            requests.append(_request(c.messages, config, seed))
        else:
            prompt = render_user_turn(c.concept, c.material, c.messages)
            requests.append(_request([{"role": "user", "content": prompt}], config, seed))
    for conversation, output in zip(active, ask(requests), strict=True):
        why = why_unusable(output, config.drop_truncated)
        conversation.add(role, output, parse_turn(output.text) if why is None else None, why)


def to_rows(conversations: list[Conversation], config: Config) -> StageResult:
    rows, reasons = [], []
    for c in conversations:
        question = c.messages[0]["content"] if c.messages else f"(opening question: {c.concept} x {c.material})"
        row = {
            "id": content_id(NAME, VERSION, TEMPLATE_HASH, c.concept, c.material, c.seed, c.messages),
            "recipe": NAME,
            "recipe_version": VERSION,
            "template_hash": TEMPLATE_HASH,
            "seed_ids": [f"concept:{c.concept}", f"material:{c.material}"],
            "instruction": question,
            "input": "",
            "metadata": json.dumps({"meta_concept": c.concept, "material_type": c.material, "turns": c.rounds}),
        }
        if c.broken is None:
            provenance = teacher_columns(c.outputs, temperature=config.temperature, max_tokens=config.max_tokens)
            row |= {"messages": c.messages, "response": c.messages[-1]["content"], **provenance}
        rows.append(row)
        reasons.append(c.broken)
    return split(rows_frame(rows), "synthesis", pl.Series(reasons, dtype=pl.String))


def estimate(config: Config) -> Estimate:
    """Per conversation, at most 2 * max_turns requests (the opening question, then an assistant and a user turn
    per round); each turn's prompt holds the turns before it, each at most max_tokens."""
    taxonomy = load_taxonomy(config.taxonomy)
    concept, material = max(taxonomy.meta_concepts, key=len), max(taxonomy.material_types, key=len)
    template = max(prompt_tokens(render_opening(concept, material)), prompt_tokens(render_user_turn(concept, material, [])))
    turns, count = 2 * config.max_turns, config.conversations
    per_conversation = sum(template + earlier * (config.max_tokens + 4) for earlier in range(turns))
    return Estimate(count * turns, count * per_conversation, count * turns * config.max_tokens, rows=count)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    pairs = draw_pairs(load_taxonomy(config.taxonomy), config.conversations, rng)
    conversations = open_conversations(config, ask, rng, pairs)
    for turn in range(1, config.max_turns + 1):
        if not any(c.active for c in conversations):
            break
        if turn > 1:
            advance(conversations, "user", config, ask, turn)
        advance(conversations, "assistant", config, ask, turn)
        log(f"ultrachat turn {turn}: {sum(c.active for c in conversations)} conversations continue, "
            f"{sum(c.broken is not None for c in conversations)} broken")
    return to_rows(conversations, config)
