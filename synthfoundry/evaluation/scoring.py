"""Score a model on held-out items: the held-out loss (mean NLL per token of each item's reference completion given
its prompt: cheap and sensitive) and accuracy (a greedy answer, checked by the item's own verifier)."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from synthfoundry.records import to_chat_messages
from synthfoundry.tools.calls import first_step, offer_tools
from synthfoundry.verify import verify

Progress = Callable[[int, int], None]  # (done, total)
MAX_EVAL_TOKENS = 1024


def conversations(rows: pl.DataFrame) -> list[tuple[list[dict], dict]]:
    """Each row as (the turns before its last answer, that answer's turn): what trainers and scoring both see, the
    user turn made by `to_chat_messages` (instruction, then input) or a conversation's own turns. A tool-use row is
    its request with its tools offered, answered by its first step's calls: the shape the held-out tool-call set
    asks for (sets.py)."""
    pairs = [(turns[:-1], turns[-1]) for turns in to_chat_messages(rows)["messages"].to_list()]
    if "trajectory" not in rows.columns or "tools" not in rows.columns:
        return pairs
    return [_first_step(prompt, trajectory, tools) if trajectory and tools else (prompt, answer)
            for (prompt, answer), trajectory, tools in zip(pairs, rows["trajectory"], rows["tools"], strict=True)]


def _first_step(prompt: list[dict], trajectory: str, tools: str) -> tuple[list[dict], dict]:
    """The turns up to the first request, with the tools offered, and the first answer's calls."""
    request = next(index for index, turn in enumerate(prompt) if turn["role"] == "user")
    return offer_tools(prompt[: request + 1], tools), {"role": "assistant", "content": first_step(trajectory)}


def item_conversations(items: pl.DataFrame) -> list[tuple[list[dict], dict]]:
    """Held-out items with their reference as the answer; an item that offers `tools` lists them in a system turn
    (as the verl export prompts tool-use rows)."""
    pairs = conversations(items.with_columns(
        pl.col("item_id").alias("id"), pl.col("reference").alias("response"), pl.lit(None).alias("messages")
    ))
    tools = items["tools"] if "tools" in items.columns else [None] * items.height
    return [(offer_tools(prompt, offered) if offered else prompt, answer)
            for (prompt, answer), offered in zip(pairs, tools, strict=True)]


def score_items(model, tokenizer, items: pl.DataFrame, max_new_tokens: int, batch_size: int,
                progress: Progress | None = None) -> pl.DataFrame:
    """Per item: `loss` (mean NLL of the reference), `tokens` (its length), `score` (the verifier's, of a greedy
    answer), `response` and `extracted` (what the verifier read)."""
    import torch

    model.eval()
    pairs = item_conversations(items)
    rows = items.to_dicts()
    losses, lengths, responses = [], [], []
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start : start + batch_size]
        with torch.no_grad():
            batch_losses, batch_lengths = _reference_nll(model, tokenizer, batch)
            responses += _generate(model, tokenizer, [prompt for prompt, _ in batch], max_new_tokens)
        losses += batch_losses
        lengths += batch_lengths
        if progress:
            progress(min(start + batch_size, len(pairs)), len(pairs))
    verdicts = [verify(response, row) for response, row in zip(responses, rows)]
    return pl.DataFrame({
        "item_id": items["item_id"],
        "loss": pl.Series(losses, dtype=pl.Float64),
        "tokens": pl.Series(lengths, dtype=pl.Int64),
        "score": pl.Series([v.score for v in verdicts], dtype=pl.Float64),
        "response": pl.Series(responses, dtype=pl.String),
        "extracted": pl.Series([v.extracted for v in verdicts], dtype=pl.String),
    })


def _reference_nll(model, tokenizer, batch: list[tuple[list[dict], dict]]) -> tuple[list[float], list[int]]:
    """Mean NLL per token of each reference completion (its turn's tokens after the prompt, end marker included)."""
    import torch

    sequences, starts = [], []
    for prompt, answer in batch:
        prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                                   return_dict=True)["input_ids"]
        full_ids = tokenizer.apply_chat_template([*prompt, answer], tokenize=True, return_dict=True)["input_ids"]
        sequences.append(full_ids[:MAX_EVAL_TOKENS])
        starts.append(min(len(prompt_ids), MAX_EVAL_TOKENS - 1))
    width = max(map(len, sequences))
    ids = torch.full((len(sequences), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence)
        mask[row, : len(sequence)] = 1
    device = model.device
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
    logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None].to(device))[..., 0].cpu()
    losses, lengths = [], []
    for row, (sequence, start) in enumerate(zip(sequences, starts)):
        taken = logprobs[row, start - 1 : len(sequence) - 1]  # predictions of tokens start .. end
        losses.append(float(-taken.mean()) if len(taken) else float("nan"))
        lengths.append(len(taken))
    return losses, lengths


def _generate(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int) -> list[str]:
    tokenizer.padding_side = "left"
    encoded = tokenizer.apply_chat_template(prompts, add_generation_prompt=True, tokenize=True, padding=True,
                                            return_dict=True, return_tensors="pt").to(model.device)
    output = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                            pad_token_id=tokenizer.pad_token_id)
    return tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
