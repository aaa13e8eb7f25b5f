"""The teacher's part of a run config: which model answers, where, with which limits, cache, budget and fallback.

It lives with the teachers so the teacher layer never imports the run config above it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from synthfoundry.strict import Strict


class ModelPrice(Strict):
    """USD per million tokens."""

    input: float = Field(ge=0, description="USD per million prompt tokens")
    output: float = Field(ge=0, description="USD per million completion tokens")


class _TeacherIdentity(Strict):
    """Which model, where, and where its key comes from: shared by the teacher and its fallback."""

    model: str | None = Field(default=None, description="model name; default depends on the provider")
    base_url: str | None = Field(default=None, description="any OpenAI-compatible server (vLLM, Ollama, llama.cpp)")
    api_key_env: str | None = Field(default=None, description="environment variable holding the key")
    api_key_secret: str | None = Field(default=None, description="name of a Prefect Secret block holding the key")
    model_path: Path | None = Field(default=None, description="local GGUF file; default: packaged SmolLM2-135M")


class FallbackTeacherConfig(_TeacherIdentity):
    """A second teacher for requests the first one keeps failing; sampling and limits are the main teacher's."""

    provider: Literal["local", "openai", "anthropic"]
    after_failures: int = Field(
        default=3, ge=1, description="after this many failed requests in a row, send everything to the fallback"
    )


class TeacherConfig(_TeacherIdentity):
    """Who answers. Keys come from the environment (or a Prefect Secret block), never from this file."""

    provider: Literal["auto", "local", "openai", "anthropic"] = Field(
        default="auto", description="auto: openai or anthropic when their key is set, else the packaged local model"
    )
    temperature: float = Field(default=0.7, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=256, ge=1)
    drop_truncated: bool = Field(default=True, description="ledger answers cut off at max_tokens")
    max_in_flight: int = Field(
        default=16, ge=1, description="requests in flight at once to this provider and model, per process"
    )
    adaptive_concurrency: bool | None = Field(
        default=None,
        description="let the in-flight limit follow the server between min_in_flight and max_in_flight (grow "
        "while latency holds, shrink when it grows or requests fail); null: on for an OpenAI-compatible base_url "
        "(vLLM, llama.cpp and Ollama queue instead of answering 429), off for the hosted APIs",
    )
    min_in_flight: int = Field(default=1, ge=1, description="the lowest an adaptive in-flight limit goes")
    timeout_s: float = Field(default=120, gt=0)
    max_retries: int = Field(
        default=4, ge=0, description="SDK retries (backoff + jitter, Retry-After honoured) on 429, 5xx, timeouts"
    )
    circuit_breaker: int | None = Field(
        default=8, ge=1, description="stop the run after this many failed requests in a row (each after its "
        "retries): a dead endpoint fails fast instead of failing every row; null: never"
    )
    n: int = Field(default=1, ge=1, description="answers sampled per prompt; each sample is its own row")
    requests_per_minute: int | None = Field(default=None, ge=1, description="this process's request rate cap")
    tokens_per_minute: int | None = Field(
        default=None, ge=1, description="this process's token rate cap (estimated prompt + max_tokens per request)"
    )
    global_rate_limit: str | None = Field(
        default=None,
        description="Prefect global concurrency limit (with slot decay) each request takes a slot from, "
        "so every worker together stays under the provider's quota",
    )
    budget_usd: float | None = Field(
        default=None, gt=0, description="hard cap on a run's spend; once reached, unsent rows go to the ledger"
    )
    max_requests: int | None = Field(
        default=5000, ge=1,
        description="refuse to start a run whose forecast (an upper bound) exceeds this many requests; null: no limit",
    )
    allow_over_forecast: bool = Field(
        default=False, description="start even when the forecast exceeds budget_usd (the cap still holds)"
    )
    expected_output_tokens: int | None = Field(
        default=None, ge=1, description="expected answer length for the cost forecast; default: max_tokens"
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict, description="model -> price per million tokens; overrides the shipped table"
    )
    cache: bool = Field(default=True, description="reuse answers to identical requests from the request cache")
    cache_path: Path | None = Field(
        default=None, description="SQLite request cache; default: <publish.root>/cache/requests.sqlite (local roots)"
    )
    fallback: FallbackTeacherConfig | None = Field(default=None, description="second teacher when this one fails")
    mode: Literal["online", "batch"] = Field(
        default="online",
        description="online: answers in seconds; batch: OpenAI Batch / Anthropic Message Batches, half the price, "
        "answers within 24 h (resumable; the local model always runs online)",
    )
    batch_poll_s: float = Field(default=30, gt=0, description="batch mode: seconds between checks on a batch")
    batch_max_requests: int = Field(
        default=10_000, ge=1, le=50_000, description="batch mode: requests per provider batch; larger lots are split"
    )
    batch_min_requests: int = Field(
        default=1,
        ge=1,
        description="batch mode: smaller lots are answered online, so a recipe asking in rounds "
        "does not wait a batch turnaround per round",
    )
    batch_attempts: int = Field(
        default=2, ge=1, description="batch mode: submissions per request (failed and expired items are resubmitted)"
    )

    @model_validator(mode="after")
    def _in_flight_range(self) -> TeacherConfig:
        if self.min_in_flight > self.max_in_flight:
            raise ValueError(
                f"teacher.min_in_flight ({self.min_in_flight}) is above teacher.max_in_flight ({self.max_in_flight}): "
                "the adaptive limit moves between the two"
            )
        return self

    def adapts(self, provider: str) -> bool:
        """Whether the in-flight limit adapts for this (resolved) provider: see `adaptive_concurrency`."""
        if self.adaptive_concurrency is not None:
            return self.adaptive_concurrency
        return provider == "openai" and self.base_url is not None

    @model_validator(mode="after")
    def _batch_needs_the_cache(self) -> TeacherConfig:
        if self.mode == "batch" and not self.cache:
            raise ValueError(
                "teacher.mode 'batch' needs teacher.cache: batch answers and the batches in flight are kept "
                "in the request cache, which is what lets an interrupted run re-attach instead of paying twice"
            )
        return self

    def with_cache_under(self, root: str) -> TeacherConfig:
        """This config with the request cache defaulted into a publish root, shared by every run that publishes there.
        SQLite cannot live in a bucket: an object-store root's cache is a local folder named after the URL."""
        if self.cache_path is not None:
            return self
        if "://" in root:
            cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            folder = cache_home / "synthfoundry" / re.sub(r"[^A-Za-z0-9_.-]+", "-", root).strip("-")
        else:
            folder = Path(root) / "cache"
        return self.model_copy(update={"cache_path": folder / "requests.sqlite"})
