"""Load: a dataset you already have, through the same filters, contracts and versions as a generated one.

Curating, decontaminating, deduplicating and versioning existing data is what many users do first. Rows come from
a JSONL or Parquet file, a folder or glob of them, any fsspec URL, or a `datasets.save_to_disk` folder; `columns`
says which of their columns hold our instruction, input, response, answer, verifier and messages. A row that has
a response keeps it (no teacher call; `teacher_provider` is "loaded"); a row without one is answered by
distillation like any recipe's row (`redistill: true` re-answers every row). Ids come from the content, not the
file, so loading the same data twice publishes nothing new. With `output: rlvr` the rows are prompts with their
ground truth for an RL trainer, and nothing is distilled.
"""

from __future__ import annotations

import json
import random
from typing import Literal

import polars as pl
from pydantic import Field, model_validator

from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.load.read import LoadError, Table, read_tables
from synthfoundry.records import content_id, rows_frame, teacher_params, text_hash
from synthfoundry.spend import Estimate, prompt_tokens
from synthfoundry.stages import StageResult, split
from synthfoundry.strict import Strict

NAME = "load"
VERSION = "1"
KIND = "sft"
DISTILL = True  # rows without a response are answered (a Config with output rlvr says otherwise: `distill`)
EMBED_COLUMN = "instruction"
FILTERS = ({"name": "decontamination"}, {"name": "diversity"})  # default filter steps, in order
OURS = ("instruction", "input", "response", "answer", "verifier", "messages")
LOADED = "loaded"  # the teacher_provider of a response that came with the data


class Columns(Strict):
    """Which of the data's columns holds each of ours (leave out what the data does not have)."""

    instruction: str | None = Field(default=None, description="the prompt (default: the first user turn of messages)")
    input: str | None = Field(default=None, description="context that goes with the instruction")
    response: str | None = Field(default=None, description="the answer, kept as is (rows without one are distilled)")
    answer: str | None = Field(default=None, description="the verifiable ground truth")
    verifier: str | None = Field(default=None, description="each row's verifier name, e.g. math_verify")
    messages: str | None = Field(default=None, description="a conversation: a list of {role, content} turns")


class Config(Strict):
    """An existing dataset (JSONL, Parquet, a datasets.save_to_disk folder) loaded, filtered, checked and versioned."""

    name: Literal["load"] = "load"
    path: str = Field(description="a .jsonl or .parquet file, a folder or glob of them, an fsspec URL (s3://...), "
                      "or a folder written by datasets.save_to_disk")
    columns: Columns | None = Field(
        default=None, description="our column -> the data's column, e.g. {instruction: question, response: "
        "solution}; default: the data's columns named instruction, input, response, answer, verifier, messages",
    )
    split: str | None = Field(default=None, description="the split of a saved DatasetDict; default: train")
    verifier: str | None = Field(
        default=None, description="the verifier of every row (e.g. math_verify), for data with no verifier column",
    )
    output: Literal["sft", "rlvr"] = Field(
        default="sft", description="sft: instruction and response (missing responses are distilled); rlvr: prompts "
        "with answer and verifier for an RL trainer, nothing distilled",
    )
    redistill: bool = Field(
        default=False, description="re-answer every row with the teacher, even those with a response"
    )
    source_model: str = Field(
        default="unknown", description="who wrote the loaded responses: recorded as their teacher_model",
    )
    limit: int | None = Field(default=None, ge=1, description="load at most this many rows")

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        named = self.columns.model_dump(exclude_none=True) if self.columns else {}
        if self.columns is not None and not {"instruction", "messages"} & set(named):
            raise ValueError("columns: name the instruction column (or messages, for conversations)")
        if self.verifier is not None and "verifier" in named:
            raise ValueError("give verifier (one for every row) or columns.verifier (per row), not both")
        if self.verifier is not None:
            from synthfoundry.verify import get_verifier

            get_verifier(self.verifier)  # an unknown name fails here, with the known ones listed
        if self.output == "rlvr" and self.redistill:
            raise ValueError("output rlvr distils nothing: leave redistill out")
        if self.redistill and "messages" in named:
            raise ValueError("redistill answers single-turn prompts; a conversation's turns depend on each other: "
                             "map instruction instead of messages, or leave redistill out")
        return self

    @property
    def kind(self) -> str:
        """The dataset kind, and so the default contract: rlvr, chat for conversations, else sft."""
        if self.output == "rlvr":
            return "rlvr"
        return "chat" if self.columns is not None and self.columns.messages else "sft"

    @property
    def distill(self) -> bool:
        return self.output != "rlvr"

    @property
    def filters(self) -> tuple[dict, ...]:
        """Rows that come with an answer and a verifier are checked for correctness first."""
        verifiable = self.output == "sft" and self.columns is not None and self.columns.answer is not None and (
            self.verifier is not None or self.columns.verifier is not None)
        return (({"name": "correctness"},) if verifiable else ()) + FILTERS


def load(config: Config) -> tuple[list[Table], dict[str, str]]:
    """The data's files, and our column -> theirs: the configured mapping, else the columns of our names it has."""
    if config.columns is not None:
        names = config.columns.model_dump(exclude_none=True)
        return read_tables(config.path, sorted(set(names.values())), config.split), names
    tables = read_tables(config.path, None, config.split)
    present = {name for table in tables for row in table.rows[:1000] for name in row}
    names = {name: name for name in OURS if name in present}
    if not {"instruction", "messages"} & set(names):
        raise LoadError(f"{config.path} has no column named instruction or messages: say which column holds the "
                        "prompt, e.g. columns: {instruction: question, response: answer}")
    return tables, names


def _text(value: object, column: str) -> tuple[str | None, str | None]:
    """A text cell, or why it is not one."""
    if value is None or isinstance(value, str):
        return (value if value is None or value.strip() else None), None
    return None, f"{column} is not text ({type(value).__name__})"


def _answer(value: object) -> str | None:
    """Ground truth as text, whatever type the file stored it as (GSM8K-style numbers are often ints)."""
    return None if value is None else (str(value).strip() or None)


def _conversation(value: object) -> tuple[list[dict] | None, str | None]:
    """A list of {role, content} turns, or why the cell is not one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None, "messages is text that is not a JSON list of turns"
    turns = value if isinstance(value, list) else None
    if not turns or not all(
        isinstance(t, dict) and isinstance(t.get("role"), str) and isinstance(t.get("content"), str) for t in turns
    ):
        return None, "messages is not a list of {role, content} turns"
    turns = [{"role": t["role"], "content": t["content"]} for t in turns]
    if turns[-1]["role"] != "assistant":
        return None, "the conversation does not end with an assistant turn (map instruction to distil single prompts)"
    if not any(t["role"] == "user" for t in turns):
        return None, "the conversation has no user turn"
    return turns, None


def _row(item: dict, names: dict[str, str], config: Config, source: str, index: int) -> tuple[dict, str | None]:
    """One of our rows from one of theirs, and why it cannot be used (None: it can)."""
    values = {ours: item.get(theirs) for ours, theirs in names.items()}
    problems = []
    messages = None
    if values.get("messages") is not None:
        messages, problem = _conversation(values["messages"])
        problems.append(problem)
    texts = {}
    for column in ("instruction", "input", "response", "verifier"):
        texts[column], problem = _text(values.get(column), column)
        problems.append(problem)
    if messages is not None:
        texts["instruction"] = texts["instruction"] or next(t["content"] for t in messages if t["role"] == "user")
        texts["response"] = texts["response"] or messages[-1]["content"]
    answer, verifier = _answer(values.get("answer")), texts["verifier"] or config.verifier
    response = None if config.redistill or config.output == "rlvr" else texts["response"]
    instruction, input_ = texts["instruction"], texts["input"] or ""
    if instruction is None:
        problems.append("no instruction" + (f" (column {names['instruction']!r} is empty)" if "instruction" in names
                                            else ""))
    if config.output == "rlvr" and (answer is None or verifier is None):
        problems.append("no answer or verifier to check a policy's response against")
    row = {
        "id": content_id(NAME, VERSION, instruction, input_, messages, answer, verifier, response),
        "recipe": NAME,
        "recipe_version": VERSION,
        "template_hash": text_hash(json.dumps(names, sort_keys=True)),
        "seed_ids": [f"{source}#{index}"],
        "instruction": instruction,
        "input": input_,
        "messages": messages,
        "answer": answer,
        "verifier": verifier,
        "metadata": json.dumps({"source": source, "row": index}),
    }
    if response is not None:
        row |= {
            "response": response, "teacher_provider": LOADED, "teacher_model": config.source_model,
            "teacher_params": teacher_params(LOADED, config.source_model), "prompt_tokens": 0, "completion_tokens": 0,
            "cost_usd": 0.0,
        }
    return row, next((p for p in problems if p), None)


def rows(config: Config) -> StageResult:
    """Every loaded row, kept or ledgered with its reason (a repeat of an earlier row's content is one)."""
    tables, names = load(config)
    built, reasons, seen = [], [], set()
    for table in tables:
        for index, item in enumerate(table.rows):
            if config.limit is not None and len(built) >= config.limit:
                break
            row, reason = _row(item, names, config, table.source, index)
            if reason is None and row["id"] in seen:
                reason = "the same content as an earlier row of the data"
            seen.add(row["id"])
            built.append(row)
            reasons.append(reason)
    return split(rows_frame(built), "synthesis", pl.Series(reasons, dtype=pl.String))


def estimate(config: Config) -> Estimate:
    """No request of its own: reading the data here finds a missing file or column before anything is paid. The
    rows without a response are what distillation will answer."""
    kept = rows(config).kept
    prompts = kept.filter(pl.col("response").is_null()).select(
        pl.concat_str("instruction", "input", separator="\n\n"))
    longest = max((prompt_tokens(text) for text in prompts.to_series().to_list()), default=0)
    answered = kept.height - prompts.height if config.distill else kept.height
    return Estimate(rows=kept.height, row_tokens=longest, answered=answered)


def synthesize(config: Config, ask: Ask, rng: random.Random, log: Log) -> StageResult:
    """Never calls `ask`: distillation answers the rows that need it."""
    result = rows(config)
    answered = result.kept["response"].is_not_null().sum()
    log(f"load: {result.counts['in']} rows from {config.path}: {result.counts['kept']} kept ({answered} with a "
        f"response), {result.counts['dropped']} ledgered")
    return result
