"""Pick and build the teacher a run config asks for.

Provider modules are imported inside `make_teacher`: importing `synthfoundry.teachers.base` (which runs this
file first) must not pay for openai, anthropic or llama_cpp.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from synthfoundry.teachers.base import Teacher, TeacherError

if TYPE_CHECKING:
    import httpx2

    from synthfoundry.config import TeacherConfig

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


def _key_variable(config: TeacherConfig, provider: str) -> str:
    if config.api_key_env and (config.provider != "auto" or provider == "openai"):
        return config.api_key_env
    return KEY_VARIABLES[provider]


def resolve_api_key(config: TeacherConfig, environ: Mapping[str, str] = os.environ) -> str | None:
    """The key from `api_key_env` or the provider's standard variable; None for the local model or when unset."""
    provider = resolve_provider(config, environ=environ)
    if provider == "local":
        return None
    return environ.get(_key_variable(config, provider)) or None


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
        if provider == "openai" and _is_loopback(config.base_url):
            key = "not-needed"  # a local OpenAI-compatible server (llama.cpp, vLLM, Ollama) usually wants no key
        else:
            raise TeacherError(
                f"no API key for the {provider} teacher: set {_key_variable(config, provider)} "
                "(or teacher.api_key_env), or name a Prefect Secret block in teacher.api_key_secret"
            )
    common: dict[str, Any] = {
        "model": config.model or DEFAULT_MODELS[provider],
        "api_key": key,
        "base_url": config.base_url,
        "timeout_s": config.timeout_s,
        "max_retries": config.max_retries,
        "http_client": http_client,
    }
    if provider == "openai":
        from synthfoundry.teachers.openai_teacher import OpenAITeacher

        return OpenAITeacher(**common)
    from synthfoundry.teachers.anthropic_teacher import AnthropicTeacher

    return AnthropicTeacher(**common)
