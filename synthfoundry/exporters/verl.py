"""verl / OpenRLHF RLVR prompts: chat-form `prompt`, `data_source`, `ability`, `reward_model.ground_truth` and
`extra_info` (with the row's verifier), as Parquet. `compute_score` is a verl custom reward function that scores a
rollout with the row's own verifier (verl 0.9: `reward.custom_reward_function.path=<site-packages>/synthfoundry/
exporters/verl.py reward.custom_reward_function.name=compute_score`).

A policy that does not know how its answer is read scores about 0 whatever it knows, so each prompt says how to end
the answer (`ANSWER_FORMAT`: the `<answer>` block every verifier reads first; `CODE_FORMAT` for code rows: a fenced
program, run against the row's tests in the sandbox), as a system turn by default
(`answer_format: user` appends it to the last user turn; `none` leaves the prompt as published). Rows verified by a
`regex:` read their own pattern, so their prompts are left alone. Tool-use rows (verifier `tool_calls`) are
prompted with their request and a system turn listing the tools and how to call them (`tools.calls.offer_tools`);
the reward compares the rollout's calls with the row's ground-truth calls, type-aware through `extra_info.tools`.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from synthfoundry.exporters.base import ExportError, ExportOptions, has_trajectories, write_table
from synthfoundry.records import MESSAGE, to_chat_messages
from synthfoundry.tools.calls import offer_tools
from synthfoundry.verify import CODE_TESTS, MATH_VERIFY

NAME = "verl"
ANSWER_FORMAT = (
    "Think step by step, then give your final answer alone inside <answer></answer> tags at the end, "
    "e.g. <answer>42</answer>."
)
CODE_FORMAT = "Write your final, complete program in one ```python fenced block at the end of your answer."



def _tool_prompts(rows: pl.DataFrame) -> pl.Series:
    """The prompt of each tool-use row (null for others): the turns before the first assistant step, its system turn
    extended with the tools (`offer_tools`)."""
    prompts = []
    for trajectory, tools in rows.select("trajectory", "tools").iter_rows():
        if trajectory is None:
            prompts.append(None)
            continue
        messages = json.loads(trajectory)
        first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
        prompts.append(offer_tools([{"role": m["role"], "content": m["content"]} for m in messages[:first]], tools))
    return pl.Series(prompts, dtype=pl.List(MESSAGE))


def export(rows: pl.DataFrame, manifest: dict, out: Path, options: ExportOptions) -> list[Path]:
    for column in ("answer", "verifier"):
        unset = rows.height if column not in rows.columns else rows[column].null_count()
        if unset:
            raise ExportError(
                f"{manifest['dataset']} {manifest['version']}: {unset} of {rows.height} rows have no {column!r}; "
                "RLVR trainers need a ground truth and a verifier per prompt (publish an rlvr dataset, e.g. the "
                "procedural or metamath output: rlvr recipes), or export this version with --format trl"
            )
    conversation = pl.col("_conversation")  # the prompt is the conversation up to the answer the policy writes
    prompt = (
        pl.when(conversation.list.last().struct.field("role") == "assistant")
        .then(conversation.list.head(conversation.list.len() - 1))
        .otherwise(conversation)
    )
    extra = [
        pl.int_range(pl.len(), dtype=pl.Int64).alias("index"),
        pl.col("id"),
        pl.lit(options.split).alias("split"),
        pl.col("verifier"),
        pl.col("recipe").cast(pl.String),
        pl.col("instruction").alias("question"),
        pl.col("metadata").cast(pl.String),
        pl.col("response").cast(pl.String).alias("reference"),
    ]
    if options.reasoning == "keep" and "reasoning" in rows.columns:
        extra.append(pl.col("reasoning"))
    if has_trajectories(rows):
        extra.append(pl.col("tools"))
        conversation_of = pl.coalesce(_tool_prompts(rows), to_chat_messages(rows)["messages"])
    else:
        conversation_of = to_chat_messages(rows)["messages"]
    table = rows.with_columns(_conversation=conversation_of).select(
        pl.lit(f"synthfoundry/{manifest['dataset']}").alias("data_source"),
        _with_answer_format(prompt, options.answer_format).alias("prompt"),
        pl.when(pl.col("verifier") == MATH_VERIFY).then(pl.lit("math"))
        .when(_code).then(pl.lit("code"))
        .otherwise(pl.col("verifier")).alias("ability"),
        pl.struct(pl.lit("rule").alias("style"), pl.col("answer").alias("ground_truth")).alias("reward_model"),
        pl.struct(extra).alias("extra_info"),
    )
    return [write_table(table, out / f"{options.split}.parquet", "parquet")]


def _with_answer_format(prompt: pl.Expr, where: str) -> pl.Expr:
    """The prompt with `ANSWER_FORMAT` in a system turn (merged into one the conversation opens with) or appended to
    its last (user) turn; unchanged for `none` and for `regex:` rows."""
    if where == "none":
        return prompt
    if where == "system":
        first = prompt.list.first()
        system = pl.lit("system")
        formatted = (
            pl.when(first.struct.field("role") == "system")
            .then(pl.concat_list(_turn(system, _and_format(first.struct.field("content"))), prompt.list.slice(1)))
            .otherwise(pl.concat_list(_turn(system, _format), prompt))
        )
    else:
        last = prompt.list.last()
        formatted = prompt.list.head(prompt.list.len() - 1).list.concat(
            pl.concat_list(_turn(last.struct.field("role"), _and_format(last.struct.field("content"))))
        )
    own_format = pl.col("verifier").str.starts_with("regex:") | (pl.col("verifier") == "tool_calls")
    return pl.when(own_format).then(prompt).otherwise(formatted)


_code = pl.col("verifier").str.starts_with(CODE_TESTS)
_format = pl.when(_code).then(pl.lit(CODE_FORMAT)).otherwise(pl.lit(ANSWER_FORMAT))  # how the row's verifier reads


def _turn(role: pl.Expr, content: pl.Expr) -> pl.Expr:
    return pl.struct(role.alias("role"), content.alias("content"))


def _and_format(content: pl.Expr) -> pl.Expr:
    return pl.concat_str([content, pl.lit("\n\n"), _format])


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None,
    sandbox: dict | None = None, **kwargs
) -> float:
    """verl's reward-function signature; the verifier, question and metadata come from `extra_info`. verl adds
    `reward_kwargs` from its config as keywords: `sandbox` (SandboxConfig fields, e.g. {timeout_s: 5}) sets where
    code rows' tests run (default: bwrap, 10 s, 1 GB); the others (e.g. format_score) are accepted and not needed,
    since the row's verifier defines the reward."""
    from synthfoundry.sandbox import SandboxConfig, shared_sandbox
    from synthfoundry.verify import verify

    info = extra_info or {}
    row = {
        "answer": ground_truth,
        "verifier": info.get("verifier") or MATH_VERIFY,
        "instruction": info.get("question"),
        "metadata": info.get("metadata"),
        "tools": info.get("tools"),
    }
    return verify(solution_str, row, shared_sandbox(SandboxConfig(**sandbox)) if sandbox else None).score
