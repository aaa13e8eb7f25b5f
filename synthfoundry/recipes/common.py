"""Helpers shared by recipes that answer their own prompts (DISTILL = False) instead of leaving it to distillation."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from synthfoundry.records import teacher_params
from synthfoundry.teachers.base import ChatRequest, Completion


def teacher_columns(outputs: Sequence[Completion], temperature: float, max_tokens: int) -> dict:
    """Response provenance of a row built from several answers (turns of a conversation, a rewrite then a solution).

    The teacher, finish reason and reasoning are those of the last answer (the row's `response`); tokens and cost
    are summed over all of them. The sampling parameters are the ones the recipe asked with.
    """
    last = outputs[-1]
    costs = [o.cost_usd for o in outputs]
    return {
        "teacher_provider": last.provider or None,
        "teacher_model": last.model,
        "teacher_params": teacher_params(last.provider, last.model, temperature=temperature, max_tokens=max_tokens),
        "prompt_tokens": sum(o.prompt_tokens for o in outputs),
        "completion_tokens": sum(o.completion_tokens for o in outputs),
        "finish_reason": last.finish_reason,
        "reasoning": last.reasoning,
        "cost_usd": None if any(c is None for c in costs) else sum(costs),
    }


_LABEL = re.compile(r"^(?:[*#\s]*(?:\d+[.)]|[A-Za-z][A-Za-z ]{0,30}:)\**)+\s*")


def first_line(text: str, min_words: int = 3) -> str | None:
    """The first line of content in a short answer ("Write only the question"), as small models phrase it.

    Skips preambles ending in a colon ("Sure! Here is a question:"), strips labels ("Rephrased question:"),
    numbering, bold and quotes; None when that line has fewer than `min_words` words.
    """
    for line in text.splitlines():
        if not line.strip() or line.rstrip().rstrip("*").endswith(":"):
            continue
        found = _LABEL.sub("", line).strip().strip('*"“”').strip()
        return found if len(found.split()) >= min_words else None
    return None


def user_request(content: str, temperature: float, max_tokens: int, rng: random.Random) -> ChatRequest:
    """A one-turn request seeded from the run's rng, so a re-run with the same seed sends (and caches) the same."""
    return ChatRequest(
        messages=({"role": "user", "content": content},),
        temperature=temperature,
        max_tokens=max_tokens,
        seed=rng.randrange(2**31),
    )
