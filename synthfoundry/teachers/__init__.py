"""Pick and build the teacher a run config asks for.

Provider modules are imported inside `make_teacher`: importing `synthfoundry.teachers.base` (which runs this
file first) must not pay for openai, anthropic or llama_cpp.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from synthfoundry.teachers.base import Teacher, TeacherError

if TYPE_CHECKING:
    import httpx2

    from synthfoundry.teachers.config import TeacherConfig
    from synthfoundry.teachers.limits import Budget, ProviderLimits
    from synthfoundry.teachers.managed import ManagedTeacher

log = logging.getLogger(__name__)

KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}


def resolve_provider(config: TeacherConfig, api_key: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """'auto' uses a paid teacher only when its key is there, so a fresh checkout runs on the local model.

    Under 'auto', a given key, `api_key_env` and `base_url` all mean OpenAI (or an OpenAI-compatible server).
    """
    if config.provider != "auto":
        return config.provider
    if api_key or config.base_url or environ.get(config.api_key_env or KEY_VARIABLES["openai"]):
        return "openai"
    if environ.get(KEY_VARIABLES["anthropic"]):
        return "anthropic"
    return "local"


def key_variable(config: TeacherConfig, provider: str) -> str:
    if config.api_key_env and (config.provider != "auto" or provider == "openai"):
        return config.api_key_env
    return KEY_VARIABLES[provider]


def resolve_api_key(config: TeacherConfig, environ: Mapping[str, str] = os.environ) -> str | None:
    """The key from `api_key_env` or the provider's standard variable; None for the local model or when unset."""
    provider = resolve_provider(config, environ=environ)
    if provider == "local":
        return None
    return environ.get(key_variable(config, provider)) or None


def missing_key(config: TeacherConfig, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why the configured teacher has no key (None when it has one, needs none, or gets it from a Secret block)."""
    provider = resolve_provider(config, environ=environ)
    if provider == "local" or config.api_key_secret or resolve_api_key(config, environ):
        return None
    if provider == "openai" and _is_loopback(config.base_url):
        return None  # a local OpenAI-compatible server (llama.cpp, vLLM, Ollama) usually wants no key
    return (
        f"no API key for the {provider} teacher: set {key_variable(config, provider)} "
        "(or teacher.api_key_env), or name a Prefect Secret block in teacher.api_key_secret"
    )


def _is_loopback(url: str | None) -> bool:
    host = urlparse(url).hostname if url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_teacher(
    config: TeacherConfig, api_key: str | None = None, http_client: httpx2.AsyncClient | None = None
) -> Teacher:
    """Build the configured teacher; `api_key` (e.g. from a Prefect Secret block) wins over the environment."""
    provider = resolve_provider(config, api_key)
    if provider == "local":
        from synthfoundry.teachers.local import LocalTeacher

        return LocalTeacher(config.model_path)
    key = api_key or resolve_api_key(config)
    if key is None:
        if problem := missing_key(config.model_copy(update={"api_key_secret": None})):
            raise TeacherError(problem)
        key = "not-needed"
    common: dict[str, Any] = {
        "model": config.model or DEFAULT_MODELS[provider],
        "api_key": key,
        "base_url": config.base_url,
        "timeout_s": config.timeout_s,
        "max_retries": config.max_retries,
        "http_client": http_client,
        "max_connections": config.max_in_flight,
    }
    if provider == "openai":
        from synthfoundry.teachers.openai_teacher import OpenAITeacher

        return OpenAITeacher(**common)
    from synthfoundry.teachers.anthropic_teacher import AnthropicTeacher

    return AnthropicTeacher(**common)


def make_managed_teacher(
    config: TeacherConfig,
    default_cache_path: Path | None = None,
    budget: Budget | None = None,
    throttle: Callable[[], Awaitable[None]] | None = None,
    api_keys: tuple[str | None, str | None] = (None, None),
    http_client: httpx2.AsyncClient | None = None,
    limits: ProviderLimits | None = None,
) -> ManagedTeacher:
    """The configured teacher (and its fallback) behind the request cache, limits, budget and accounting.

    `api_keys` are the main and fallback teachers' keys when they come from elsewhere than the environment.
    `limits`: shared with the other teachers that must stay together under the provider's quota (default: its own).
    """
    from synthfoundry.teachers.batch import BatchAPI, BatchRunner, BatchSettings
    from synthfoundry.teachers.cache import RequestCache
    from synthfoundry.teachers.limits import Budget, ProviderLimits
    from synthfoundry.teachers.managed import ManagedTeacher
    from synthfoundry.teachers.pricing import Price, price_for

    cache_path = config.cache_path or default_cache_path
    cache = RequestCache(cache_path) if config.cache and cache_path else None
    overrides = {name: Price(p.input, p.output) for name, p in config.prices.items()}
    budget = budget or Budget(config.budget_usd)
    limits = limits or ProviderLimits()
    if config.mode == "batch" and cache is None:
        raise TeacherError("teacher.mode 'batch' needs the request cache: set teacher.cache_path")
    batch_settings = BatchSettings(
        config.batch_poll_s, config.batch_attempts, config.batch_max_requests, config.batch_min_requests
    )

    def managed(settings: TeacherConfig, key: str | None, fallback: ManagedTeacher | None = None) -> ManagedTeacher:
        teacher = make_teacher(settings, api_key=key, http_client=http_client)
        price = price_for(teacher.provider, teacher.model, overrides)
        if price is None and settings.budget_usd is not None:
            raise TeacherError(
                f"teacher.budget_usd needs a price for {teacher.provider} model {teacher.model!r}: "
                f"add it to teacher.prices (USD per million input and output tokens)"
            )
        identity = (teacher.provider, teacher.base_url, teacher.model)
        slots, limiter = limits.of(
            identity, settings.max_in_flight, settings.requests_per_minute, settings.tokens_per_minute,
            adaptive_from=settings.min_in_flight if settings.adapts(teacher.provider) else None,
        )
        batch = None
        if settings.mode == "batch" and cache is not None and isinstance(teacher, BatchAPI):
            batch = BatchRunner(teacher, cache, batch_settings)
        elif settings.mode == "batch":  # a paid provider's discount: a local model has nothing to batch for
            log.warning("teacher.mode 'batch' does not apply to the %s teacher: it answers online", teacher.provider)
        return ManagedTeacher(
            teacher, price, slots, limiter, cache, budget, throttle, fallback, batch=batch,
            breaker_after=settings.circuit_breaker,
        )

    if config.fallback is None:
        return managed(config, api_keys[0])
    # The fallback keeps the main teacher's sampling and limits, with its own endpoint.
    endpoint = config.fallback.model_dump(exclude={"after_failures"})
    second = managed(config.model_copy(update={**endpoint, "fallback": None}), api_keys[1])
    primary = managed(config, api_keys[0], second)
    primary.fallback_after = config.fallback.after_failures
    return primary
