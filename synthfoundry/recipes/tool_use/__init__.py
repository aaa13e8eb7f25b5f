"""Tool use (BFCL / APIGen categories): function-calling trajectories whose calls are executed and checked.

Per row: tools sampled from the toolset -> the teacher writes a user request of one category (simple, multiple,
parallel, parallel multiple, multi-turn, irrelevance) -> the teacher answers through its native tool calling; each
step's calls are checked in APIGen's order (format, then schema), executed (sandbox or MCP server) and their results
sent back as tool messages -> the final answer. Multi-turn rows get a follow-up request and go on.
Rejections reach the ledger prefixed by their check: `request:`, `format:`, `schema:`, `execution:`, `irrelevance:`,
`category:`, `answer:`, `steps:`. Semantics (do the calls answer the request?) is a judge's: add a quality_judge step.

Rows: `instruction` (the first request), `response` (the final answer), `trajectory` (the OpenAI-form messages:
assistant `tool_calls`, `tool` results), `tools` (the offered JSON schemas), and for RLVR `answer` (the first step's
calls in BFCL's possible-answer shape; `[]` for irrelevance) with `verifier: tool_calls`.
"""

from __future__ import annotations

import json
import random
from importlib import resources
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field

from synthfoundry.distill import why_unusable
from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.common import first_line, teacher_columns, user_request
from synthfoundry.recipes.templates import combined_hash, load_template
from synthfoundry.recipes.tool_use.trajectories import Trajectory, converse
from synthfoundry.records import content_id, rows_frame
from synthfoundry.sandbox import Sandbox
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, split
from synthfoundry.teachers.base import Completion
from synthfoundry.tools import Tool, Toolset, ToolsetConfig, open_toolset
from synthfoundry.tools.calls import possible_answer

NAME = "tool_use"
VERSION = "1"
KIND = "tool_use"
DISTILL = False  # the recipe runs the whole trajectory
# Rows carry their calls as ground truth (`answer`, verifier `tool_calls`) for RLVR, but filters that verify `response`
# (correctness, pass_rate) would score the final answer's text, not calls: the calls were checked in synthesis.
ANSWERS = False
UNSCORED = (  # what preflight tells a run that lists such a filter
    "gives its rows tool calls as ground truth (`answer`, verifier tool_calls), while this step scores the text of a "
    "final answer, not calls: remove the step (every kept row's calls were executed and checked in synthesis); to "
    "score a model's calls, use the tool_calls verifier (`synthfoundry.verify.verify(response, row)`) or the reward "
    "of the `verl` export"
)
EMBED_COLUMN = "instruction"
FILTERS = ({"name": "decontamination"}, {"name": "diversity"})
RUNS_CODE = True  # Python toolsets run in the run's sandbox, given to `synthesize`
REQUEST = load_template(__package__, "request")
FOLLOW_UP = load_template(__package__, "follow_up")
SYSTEM = load_template(__package__, "system")
CATEGORIES: dict[str, dict[str, str]] = yaml.safe_load(
    (resources.files(__package__) / "templates" / "categories.yaml").read_text())
TEMPLATE_HASH = combined_hash(REQUEST, FOLLOW_UP, SYSTEM)
Category = Literal["simple", "multiple", "parallel", "parallel_multiple", "multi_turn", "irrelevance"]


class Config(BaseModel):
    """Tool-use trajectories in BFCL / APIGen categories, calls executed and checked (format, schema, execution)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["tool_use"] = "tool_use"
    toolset: ToolsetConfig = Field(default_factory=ToolsetConfig, description="default: the shipped everyday tools")
    rows: int = Field(default=20, ge=1, description="trajectories to attempt")
    categories: list[Category] = Field(default=list(CATEGORIES), min_length=1,
                                       description="rows cycle through these categories evenly")
    tools_per_row: int = Field(default=3, ge=2, description="tools offered to rows of the several-tool categories")
    max_steps: int = Field(default=4, ge=2, description="assistant steps per user turn, the final answer included")
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=32, description="tokens per teacher step")
    drop_truncated: bool = Field(default=True, description="ledger a trajectory whose final answer is cut at max_tokens")


def plan(config: Config, tools: tuple[Tool, ...], rng: random.Random) -> list[Trajectory]:
    """Each row's category (cycling, shuffled) and offered tools: the target alone, or several around it."""
    categories = [config.categories[i % len(config.categories)] for i in range(config.rows)]
    rng.shuffle(categories)
    planned = []
    for index, category in enumerate(categories):
        target = tools[index % len(tools)]
        if CATEGORIES[category]["tools"] == "one":
            offered = (target,)
        else:
            others = [t for t in tools if t is not target]
            offered = (target, *rng.sample(others, min(len(others), config.tools_per_row - 1)))
        planned.append(Trajectory(category, offered, rng.randrange(2**31)))
    return planned


def render_request(trajectory: Trajectory) -> str:
    listing = "\n".join(f"- {t.name}: {t.description} (arguments: {', '.join(t.parameters.get('properties', {}))})"
                        for t in trajectory.tools)
    return REQUEST.render(tools=listing, task=CATEGORIES[trajectory.category]["task"])


def render_follow_up(trajectory: Trajectory) -> str:
    said = [f"{m['role'].capitalize()}: {m['content']}" for m in trajectory.messages
            if m["role"] in ("user", "assistant") and m.get("content")]
    return FOLLOW_UP.render(names=", ".join(t.name for t in trajectory.tools), transcript="\n\n".join(said))


def _ask_users(trajectories: list[Trajectory], prompts: list[str], config: Config, ask: Ask, rng: random.Random
               ) -> None:
    requests = [user_request(p, config.temperature, config.max_tokens, rng) for p in prompts]
    for trajectory, output in zip(trajectories, ask(requests), strict=True):
        why = why_unusable(output, drop_truncated=False)
        if isinstance(output, Completion):
            trajectory.outputs.append(output)  # the row's cost includes writing its requests
        trajectory.ask_user(first_line(output.text, min_words=4) if why is None else None, why)


def run(config: Config, ask: Ask, rng: random.Random, toolset: Toolset, log: Log) -> list[Trajectory]:
    trajectories = plan(config, toolset.tools, rng)
    for trajectory in trajectories:
        trajectory.messages.append({"role": "system", "content": SYSTEM.text.strip()})
    _ask_users(trajectories, [render_request(t) for t in trajectories], config, ask, rng)
    converse(trajectories, ask, toolset, config)
    following = [t for t in trajectories if t.category == "multi_turn" and t.broken is None]
    if following:
        _ask_users(following, [render_follow_up(t) for t in following], config, ask, rng)
        converse(following, ask, toolset, config)
    by_category = {c: [t.broken is None for t in trajectories if t.category == c] for c in config.categories}
    log("tool_use: complete trajectories by category: " + ", ".join(
        f"{c} {sum(done)}/{len(done)}" for c, done in by_category.items() if done))
    return trajectories


def to_rows(trajectories: list[Trajectory], config: Config) -> StageResult:
    rows, reasons = [], []
    for t in trajectories:
        users = [m["content"] for m in t.messages if m["role"] == "user"]
        names = [tool.name for tool in t.tools]
        row = {
            "id": content_id(NAME, VERSION, TEMPLATE_HASH, t.category, names, t.seed, t.messages),
            "recipe": NAME,
            "recipe_version": VERSION,
            "template_hash": TEMPLATE_HASH,
            "seed_ids": [f"tool:{name}" for name in names],
            "instruction": users[0] if users else f"({t.category} request for {', '.join(names)})",
            "input": "",
            "tools": t.schemas,
            "verifier": "tool_calls",
            "metadata": json.dumps({"category": t.category, "tools": names, "steps": t.steps}),
        }
        if t.broken is None:
            calls = possible_answer(t.first_calls or [], {tool.name: tool for tool in t.tools})
            provenance = teacher_columns(t.outputs, temperature=config.temperature, max_tokens=config.max_tokens)
            row |= {"trajectory": json.dumps(t.messages, ensure_ascii=False), "response": t.messages[-1]["content"],
                    "answer": json.dumps(calls, ensure_ascii=False), **provenance}
        rows.append(row)
        reasons.append(t.broken)
    return split(rows_frame(rows), "synthesis", pl.Series(reasons, dtype=pl.String))


def estimate(config: Config, sandbox: Sandbox | None = None) -> Estimate:
    """Opens the toolset (so a bad module, schema or server fails here, before any request) in `sandbox`, the run's,
    as synthesis will. At most: a request per row, `max_steps` steps per user turn, and a follow-up plus its steps for
    multi-turn rows; each step's prompt holds the tools and the steps before it."""
    with open_toolset(config.toolset, sandbox or Sandbox()) as toolset:
        tools = toolset.tools
    schemas = prompt_tokens(json.dumps([t.schema() for t in tools]))
    multi = config.rows if "multi_turn" in config.categories else 0
    steps = (config.rows + multi) * config.max_steps
    request = prompt_tokens(REQUEST.text) + schemas
    per_step = schemas + prompt_tokens(SYSTEM.text) + config.max_steps * (config.max_tokens + 50)
    return Estimate(config.rows + multi + steps, (config.rows + multi) * request + steps * per_step,
                    (config.rows + multi + steps) * config.max_tokens, rows=config.rows)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log, sandbox: Sandbox | None = None) -> StageResult:
    """`sandbox`: the run's (its limits and isolation); a default one when the caller has none."""
    with open_toolset(config.toolset, sandbox or Sandbox()) as toolset:
        return to_rows(run(config, ask, rng, toolset, log), config)
