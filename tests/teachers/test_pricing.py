"""Prices per model: shipped defaults, dated snapshots, overrides, the free local model, the forecast."""

from __future__ import annotations

import pytest

from synthfoundry.teachers.base import ChatRequest, estimate_tokens
from synthfoundry.teachers.pricing import DEFAULT_PRICES, FREE, Price, forecast_usd, price_for


def test_dated_snapshots_match_their_longest_listed_prefix() -> None:
    assert price_for("openai", "gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]
    assert price_for("openai", "gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert price_for("anthropic", "claude-haiku-4-5-20251001") == DEFAULT_PRICES["claude-haiku-4-5"]


def test_overrides_win_local_is_free_unknown_is_unknown() -> None:
    mine = Price(0.5, 1.5)
    assert price_for("openai", "gpt-4o-mini", {"gpt-4o-mini": mine}) == mine
    assert price_for("openai", "my-finetune", {"my-finetune": mine}) == mine
    assert price_for("local", "SmolLM2-135M-Instruct.Q4_1") == FREE
    assert price_for("openai", "Qwen/Qwen3-8B") is None


def test_cost_and_forecast() -> None:
    price = Price(input_per_mtok=2.0, output_per_mtok=8.0)
    assert price.cost(1_000_000, 500_000) == pytest.approx(6.0)

    requests = [ChatRequest(messages=({"role": "user", "content": "x" * 300},), max_tokens=200)] * 10
    prompt = estimate_tokens(requests[0])
    assert prompt == 104  # 300 characters / 3 + 4 per message: a deliberate over-estimate
    assert forecast_usd(requests, price) == pytest.approx(10 * price.cost(prompt, 200))
    assert forecast_usd(requests, price, expected_output_tokens=50) == pytest.approx(10 * price.cost(prompt, 50))
    assert forecast_usd(requests, price, expected_output_tokens=5000) == forecast_usd(requests, price)
