"""What a request costs: USD per million tokens, per model, with shipped defaults that a run config can override.

Defaults are list prices of the providers' standard (non-batch) APIs as published when this table was written;
providers change them, so a run that must be exact sets `teacher.prices`. Batch APIs bill the same table at
BATCH_DISCOUNT (overrides included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from synthfoundry.teachers.base import ChatRequest, estimate_tokens


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1e6

    def batch(self) -> Price:
        """The price through a batch API (OpenAI Batch, Anthropic Message Batches)."""
        return Price(self.input_per_mtok * BATCH_DISCOUNT, self.output_per_mtok * BATCH_DISCOUNT)


# OpenAI and Anthropic both bill batch requests at half their standard price.
BATCH_DISCOUNT = 0.5


FREE = Price(0.0, 0.0)

DEFAULT_PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    # Anthropic
    "claude-opus-4-1": Price(15.00, 75.00),
    "claude-opus-4": Price(15.00, 75.00),
    "claude-sonnet-4-5": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
}


def price_for(provider: str, model: str, overrides: Mapping[str, Price] = {}) -> Price | None:
    """The price of `model`, matching dated snapshots ("gpt-4o-mini-2024-07-18") by their longest listed prefix.

    Overrides win; the local model is free; a model nobody priced gives None (its cost is unknown, not zero).
    """
    table = {**DEFAULT_PRICES, **overrides} if provider != "local" else dict(overrides)
    names = [name for name in table if model == name or model.startswith(f"{name}-")]
    if names:
        return table[max(names, key=len)]
    return FREE if provider == "local" else None


def forecast_usd(requests: Sequence[ChatRequest], price: Price, expected_output_tokens: int | None = None) -> float:
    """Cost of sending `requests`: estimated prompt sizes plus the expected answer length (default: max_tokens)."""
    return sum(price.cost(estimate_tokens(r), min(expected_output_tokens or r.max_tokens, r.max_tokens)) for r in requests)
