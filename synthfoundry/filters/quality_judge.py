"""Quality judge (LLM-as-judge): a judge model scores each row on a rubric; rows below `min_score` are dropped.

Rubrics are versioned YAML templates in `rubrics/` (or a user's own file of the same shape): LIMA's 1-6
helpfulness rubric as the lecture shows it, UltraFeedback's four aspects (1-5 each, one request per aspect, the
row's score is their mean), DEITA's quality and complexity scores, and `brief` (LIMA's scale answered in a few
tokens, for small local judges). Every request goes through `tools.ask(judge)`,
the managed teacher layer (cache, limits, budget, batch mode): a re-run re-sends nothing.

Input columns: `instruction`, `input`, `response`, `metadata`. The score is in `decisions` (stage quality_judge);
the row's `metadata` JSON gets `judge`: {rubric, version, template_hash, model, aspects: {aspect: score}}, so every
score can be traced to the exact rubric text that produced it.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import Field, model_validator

from synthfoundry.errors import UserError
from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.filters.judge_scores import ScoreUnparseable, parse_score
from synthfoundry.inputs import Place, read_text
from synthfoundry.records import text_hash
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.strict import Strict
from synthfoundry.teachers.base import BUDGET_EXHAUSTED, ChatRequest, Completion, TeacherFailure
from synthfoundry.teachers.config import TeacherConfig

NAME = "quality_judge"
COMPARES_ROWS = False
SHIPPED = ("lima", "ultrafeedback", "deita_quality", "deita_complexity", "brief")
# What a rubric's template may refer to; {submission} is LIMA's word for the response.
PLACEHOLDERS = {"task", "instruction", "input", "response", "submission", "trajectory"}
_RUBRIC_KEYS = {"name", "version", "scale", "default_min_score", "aspects"}
_JUDGE_SAMPLING = {"temperature", "top_p", "max_tokens", "n"}


class RubricError(UserError, ValueError):
    """A rubric file that cannot be used; the message names the file and the field at fault."""


@dataclass(frozen=True)
class Rubric:
    name: str
    version: str
    low: float
    high: float
    default_min_score: float
    aspects: dict[str, str]  # aspect -> prompt template
    hash: str  # of the file's text: any edit to the rubric changes it

    @property
    def needs_response(self) -> bool:
        return any(_fields(template) & {"response", "submission"} for template in self.aspects.values())


def rubric_path(name: str) -> Path:
    return Path(str(resources.files(__package__) / "rubrics" / f"{name}.yaml"))


def load_rubric(path: Place | Path) -> Rubric:
    """Read and check a rubric, so a typo fails when the config is read, not after a paid run."""
    text = read_text(path, "the rubric", RubricError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RubricError(f"{path}: not valid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict) or set(data) != _RUBRIC_KEYS:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise RubricError(f"{path}: a rubric has exactly the keys {sorted(_RUBRIC_KEYS)} (got {got})")
    scale, aspects = data["scale"], data["aspects"]
    if not (isinstance(scale, dict) and set(scale) == {"min", "max"} and scale["min"] < scale["max"]):
        raise RubricError(f"{path}: scale must be {{min: <number>, max: <larger number>}}, got {scale!r}")
    if not (isinstance(aspects, dict) and aspects and all(isinstance(t, str) for t in aspects.values())):
        raise RubricError(f"{path}: aspects must map each aspect's name to its prompt template")
    for aspect, template in aspects.items():
        unknown = _fields(template) - PLACEHOLDERS
        if unknown:
            raise RubricError(
                f"{path}: aspects.{aspect} uses unknown placeholder(s) {sorted(unknown)}; available: "
                f"{sorted(PLACEHOLDERS)} (write a literal brace as {{{{ or }}}})"
            )
    low, high, default = float(scale["min"]), float(scale["max"]), float(data["default_min_score"])
    if not low <= default <= high:
        raise RubricError(f"{path}: default_min_score {default:g} is outside the scale {low:g}-{high:g}")
    return Rubric(str(data["name"]), str(data["version"]), low, high, default, dict(aspects), text_hash(text))


def _fields(template: str) -> set[str]:
    try:
        return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as error:  # a lone brace
        raise RubricError(f"malformed template ({error}); write a literal brace as {{{{ or }}}}") from None


class Config(Strict):
    """Score each row with a judge model on a rubric; drop rows below `min_score`."""

    name: Literal["quality_judge"] = "quality_judge"
    rubric: Literal["lima", "ultrafeedback", "deita_quality", "deita_complexity", "brief", "tool_use"] | None = Field(
        default=None,
        description="a shipped rubric; default lima (1-6 helpfulness) unless rubric_file is given; brief: the 1-6 "
        "scale in a few tokens, for small local judges; tool_use: APIGen's semantic check of a trajectory's calls",
    )
    rubric_file: Place | None = Field(
        default=None,
        description="your own rubric YAML: name, version, scale {min, max}, default_min_score, aspects "
        "{aspect: template with {task} / {instruction} / {input} / {response} / {trajectory}}",
    )
    min_score: float | None = Field(
        default=None,
        description="keep rows scoring at least this (the mean over the rubric's aspects); default: the rubric's "
        "default_min_score (lima 4 of 6, ultrafeedback 3.5 of 5, deita_quality 3 of 6, deita_complexity 2 of 6, brief 3 of 6)",
    )
    judge: TeacherConfig | None = Field(
        default=None, description="the judge model (provider, model, base_url, limits, mode); default: the run's teacher"
    )
    temperature: float = Field(default=0.0, ge=0, le=2, description="judge sampling temperature")
    max_tokens: int = Field(
        default=512, ge=1, description="tokens per judge answer: room for the rubric's reasoning, then the score"
    )

    @model_validator(mode="after")
    def _usable(self) -> Config:
        if self.rubric and self.rubric_file:
            raise ValueError("give rubric or rubric_file, not both")
        rubric = self.load_rubric()
        if self.min_score is not None and not rubric.low <= self.min_score <= rubric.high:
            raise ValueError(
                f"min_score {self.min_score:g} is outside the {rubric.name} rubric's scale {rubric.low:g}-{rubric.high:g}"
            )
        if self.judge is not None and self.judge.model_fields_set & _JUDGE_SAMPLING:
            fields = ", ".join(sorted(self.judge.model_fields_set & _JUDGE_SAMPLING))
            raise ValueError(f"judge.{fields}: set the judge's sampling on the filter (temperature, max_tokens)")
        return self

    def load_rubric(self) -> Rubric:
        return load_rubric(self.rubric_file or rubric_path(self.rubric or "lima"))

    @property
    def threshold(self) -> float:
        return self.min_score if self.min_score is not None else self.load_rubric().default_min_score


def estimate(config: Config, rows: int, row_tokens: int) -> Estimate:
    """One request per row and aspect, each the longest aspect's template around the row."""
    rubric = config.load_rubric()
    template = max(prompt_tokens(t) for t in rubric.aspects.values())
    return Estimate.asking(rows * len(rubric.aspects), template + row_tokens, config.max_tokens).passing(rows, row_tokens)


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    rubric = config.load_rubric()
    wanted = ("id", "instruction", "input", "response", "metadata", "trajectory")
    rows = frame.select([name for name in wanted if name in frame.columns]).to_dicts()
    judged = [i for i, row in enumerate(rows) if not rubric.needs_response or (row["response"] or "").strip()]
    requests = [
        ChatRequest(
            messages=({"role": "user", "content": template.format(**_values(rows[i]))},),
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            seed=int(rows[i]["id"][:8], 16),
        )
        for i in judged
        for template in rubric.aspects.values()
    ]
    outputs = iter(tools.ask(config.judge)(requests))
    reasons: list[str | None] = ["no response to judge"] * len(rows)
    scores: list[float | None] = [None] * len(rows)
    metadata = [row["metadata"] for row in rows]
    threshold = config.threshold
    for i in judged:
        answers = {aspect: next(outputs) for aspect in rubric.aspects}
        aspects, problem = _read(answers, rubric)
        if problem:
            reasons[i] = problem
            continue
        score = round(sum(aspects.values()) / len(aspects), 3)
        scores[i] = score
        reasons[i] = None if score >= threshold else f"judge score {score:g} < min_score {threshold:g} ({rubric.name})"
        metadata[i] = _with_judge(metadata[i], rubric, next(iter(answers.values())).model, aspects)
    return Verdicts(reasons, scores, {"metadata": pl.Series(metadata, dtype=pl.String)})


def _read(answers: dict[str, Completion | TeacherFailure], rubric: Rubric) -> tuple[dict[str, float], str | None]:
    """Each aspect's score, or the reason the row has none (naming the aspect when the rubric has several)."""
    scores = {}
    for aspect, answer in answers.items():
        where = f"{aspect}: " if len(answers) > 1 else ""
        if isinstance(answer, TeacherFailure):
            return {}, answer.reason if answer.reason == BUDGET_EXHAUSTED else f"judge failed: {where}{answer.reason}"
        try:
            scores[aspect] = parse_score(answer.text, rubric.low, rubric.high)
        except ScoreUnparseable as why:
            cut = " (answer cut at max_tokens)" if answer.finish_reason == "length" else ""
            return {}, f"judge score unparseable: {where}{why}{cut}"
    return scores, None


def _values(row: dict) -> dict[str, str]:
    instruction, input_, response = row["instruction"] or "", row["input"] or "", row["response"] or ""
    task = f"{instruction}\n\n{input_}" if input_ else instruction
    return {"task": task, "instruction": instruction, "input": input_, "response": response, "submission": response,
            "trajectory": _transcript(row.get("trajectory"))}


def _transcript(trajectory: str | None) -> str:
    """A tool-use row's conversation as the judge reads it: requests, calls with their arguments, results, answers."""
    if not trajectory:
        return "(no tool calls)"
    lines = []
    for message in json.loads(trajectory):
        if message["role"] == "system":
            continue
        for call in message.get("tool_calls") or []:
            lines.append(f"Call: {call['function']['name']}({call['function']['arguments']})")
        if message.get("content"):
            label = "Result" if message["role"] == "tool" else message["role"].capitalize()
            lines.append(f"{label}: {message['content']}")
    return "\n".join(lines)


def _with_judge(metadata: str | None, rubric: Rubric, model: str, aspects: dict[str, float]) -> str:
    record = json.loads(metadata) if metadata else {}
    record["judge"] = {
        "rubric": rubric.name, "version": rubric.version, "template_hash": rubric.hash, "model": model,
        "aspects": aspects,
    }
    return json.dumps(record, ensure_ascii=False, sort_keys=True)
