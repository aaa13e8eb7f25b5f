"""Pre-flight: everything about a run that can be checked before a single request is paid for.

Each check says what it looked at and, when it fails, how to fix it. Nothing here sends a request.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from synthfoundry.config import ConfigError, RunConfig, load_config


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def preflight(config_path: str | Path, environ: Mapping[str, str] = os.environ) -> list[Check]:
    try:
        config = load_config(config_path)
    except ConfigError as error:
        return [Check("config", False, str(error))]
    checks = [Check("config", True, f"{config_path}: dataset {config.dataset!r}, recipe {config.recipe.name}")]
    checks += seed_checks(config)
    checks += [key_check(config, environ), contract_check(config), root_check(config), forecast_check(config, environ)]
    return checks


def seed_checks(config: RunConfig) -> list[Check]:
    """Every seed file the recipe names is readable text; a documents source yields at least one document."""
    from synthfoundry.documents import load_documents

    checks = []
    for field, value in config.recipe:
        if isinstance(value, Path):
            try:
                value.read_text(encoding="utf-8")
                checks.append(Check(f"recipe.{field}", True, f"{value} is readable"))
            except (OSError, UnicodeDecodeError) as error:
                checks.append(Check(f"recipe.{field}", False, f"{value}: cannot read it as UTF-8 text ({error})"))
    if "documents" in type(config.recipe).model_fields:
        from synthfoundry.recipes.document_seeds import sample_documents_path

        source = config.recipe.documents or sample_documents_path()
        documents = load_documents(source, getattr(config.recipe, "text_field", "text"),
                                   getattr(config.recipe, "min_chars", 1), getattr(config.recipe, "limit", None))
        unreadable = "; ".join(f"{u.source}: {u.reason}" for u in documents.unreadable[:3])
        detail = f"{source}: {documents.frame.height} documents readable, {len(documents.unreadable)} not"
        checks.append(Check("recipe.documents", documents.frame.height > 0,
                            detail + (f" ({unreadable})" if unreadable else "")))
    return checks


def key_check(config: RunConfig, environ: Mapping[str, str]) -> Check:
    from synthfoundry.teachers import _is_loopback, _key_variable, resolve_api_key, resolve_provider

    teacher = config.teacher
    provider = resolve_provider(teacher, environ=environ)
    if provider == "local":
        return Check("teacher key", True, "local model: no key needed")
    if teacher.api_key_secret:
        return Check("teacher key", True, f"{provider}: from the Prefect Secret block {teacher.api_key_secret!r}")
    if resolve_api_key(teacher, environ) or (provider == "openai" and _is_loopback(teacher.base_url)):
        return Check("teacher key", True, f"{provider}: key present in {_key_variable(teacher, provider)}")
    return Check("teacher key", False, f"{provider}: set {_key_variable(teacher, provider)} "
                                       "(or teacher.api_key_env, or a Prefect Secret block in teacher.api_key_secret)")


def contract_check(config: RunConfig) -> Check:
    from synthfoundry.contracts import ContractError, load_suite, suite_path

    try:
        suite = load_suite(suite_path(config.contract_suite))
    except (ContractError, OSError) as error:
        return Check("contract", False, str(error))
    return Check("contract", True, f"suite {suite.name!r}: {len(suite.expectations)} expectations ({suite.source})")


def root_check(config: RunConfig) -> Check:
    """Write and remove a probe file where the run will publish (a folder or an object-store URI)."""
    import fsspec

    root = str(config.publish.root)
    probe = f"{root.rstrip('/')}/.preflight-{uuid.uuid4().hex}"
    try:
        fs, path = fsspec.core.url_to_fs(probe)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, b"ok")
        fs.rm(path)
    except Exception as error:  # noqa: BLE001 - any back-end failure means the run could not publish
        return Check("publish root", False, f"{root}: not writable ({type(error).__name__}: {error})")
    return Check("publish root", True, f"{root}: writable")


def forecast_check(config: RunConfig, environ: Mapping[str, str] = os.environ) -> Check:
    """What the budget buys before any prompt is known: full-length answers at the teacher's price (the run
    forecasts its real requests before sending them)."""
    from synthfoundry.teachers import DEFAULT_MODELS, resolve_provider
    from synthfoundry.teachers.pricing import Price, price_for

    teacher = config.teacher
    provider = resolve_provider(teacher, environ=environ)
    model = teacher.model or DEFAULT_MODELS.get(provider, "local")
    price = price_for(provider, model, {name: Price(p.input, p.output) for name, p in teacher.prices.items()})
    if price is None:
        if teacher.budget_usd is not None:
            return Check("forecast", False, f"no price for {provider} model {model!r}, so budget_usd cannot be "
                                            "enforced: add it to teacher.prices (USD per million input and output tokens)")
        return Check("forecast", True, f"no price for {provider} model {model!r}: the run's cost will be unknown")
    price = price.batch() if teacher.mode == "batch" else price
    answer = price.cost(0, teacher.max_tokens)
    detail = f"{provider}/{model}: ${answer:.6f} per full answer of {teacher.max_tokens} tokens, plus its prompt"
    if teacher.budget_usd is None:
        return Check("forecast", True, f"{detail}; no budget set")
    if answer == 0:
        return Check("forecast", True, f"{detail}; the model is free, budget ${teacher.budget_usd} is not reached")
    return Check("forecast", True, f"{detail}; budget ${teacher.budget_usd} buys at most "
                                   f"{int(teacher.budget_usd / answer):,} answers")
