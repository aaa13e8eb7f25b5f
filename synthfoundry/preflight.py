"""Everything about a run that can be checked without the teacher, checked before the first request is sent.

`preflight(config)` forecasts the whole run (synthesis, distillation and the filters that ask) as an upper bound
in requests, tokens and USD, applies the guards (`teacher.max_requests`, `teacher.budget_usd`), and checks the
seeds and documents, the teacher's key and endpoint, the contract suite and the publish root. Each check says what
it looked at and, when it fails, how to fix it; all of them run, so one attempt shows everything there is to fix.
The flow's first task and `synthfoundry validate` both use it; nothing here sends a request. It also reads what
would otherwise fail only after requests were paid: the benchmarks, the contract and the filters against the rows
the recipe makes, the request cache, the Dask scheduler, and (with a `secret_exists` lookup, from the caller that
knows Prefect) the Secret blocks the teachers name.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from synthfoundry.config import ConfigError, RunConfig, load_config
from synthfoundry.filters import get_filter
from synthfoundry.recipes import code_tools, get_recipe
from synthfoundry.spend import Estimate
from synthfoundry.teachers import DEFAULT_MODELS, key_variable, missing_key, resolve_provider
from synthfoundry.teachers.config import TeacherConfig
from synthfoundry.teachers.pricing import Price, price_for


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class RunForecast:
    """At most what the run will ask, per stage, and what that costs (None: the model has no price)."""

    stages: dict[str, Estimate]
    usd: float | None

    @property
    def total(self) -> Estimate:
        return sum(self.stages.values(), Estimate())

    def summary(self) -> str:
        total = self.total
        parts = ", ".join(f"{name} {estimate.requests}" for name, estimate in self.stages.items() if estimate.requests)
        cost = "cost unknown (no price for the model)" if self.usd is None else f"${self.usd:.4f}"
        return (
            f"at most {total.requests} requests ({parts or 'none'}), {total.prompt_tokens} prompt + "
            f"{total.completion_tokens} answer tokens, {cost}"
        )


@dataclass(frozen=True)
class PreflightReport:
    checks: list[Check] = field(default_factory=list)
    forecast: RunForecast | None = None  # None when the seeds could not be read

    @property
    def problems(self) -> list[str]:
        return [f"{check.name}: {check.detail}" for check in self.checks if not check.ok]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def message(self) -> str:
        problems = self.problems
        lines = [f"the run was not started: {len(problems)} problem(s), nothing was sent or published"]
        lines += [f"  - {problem}" for problem in problems]
        if self.forecast is not None:
            lines.append(f"forecast: {self.forecast.summary()}")
        return "\n".join(lines)


# Does a Prefect Secret block of this name exist? Given by the callers that know Prefect (the flow, the CLI).
SecretLookup = Callable[[str], bool]


def preflight_file(
    path: str | Path, environ: Mapping[str, str] = os.environ, secret_exists: SecretLookup | None = None
) -> PreflightReport:
    """`preflight` of a run config file; a config that does not load is the one failed check."""
    try:
        config = load_config(path)
    except ConfigError as error:
        return PreflightReport([Check("config", False, str(error))])
    report = preflight(config, environ, secret_exists)
    loaded = Check("config", True, f"{path}: dataset {config.dataset!r}, recipe {config.recipe.name}")
    return PreflightReport([loaded, *report.checks], report.forecast)


def preflight(
    config: RunConfig, environ: Mapping[str, str] = os.environ, secret_exists: SecretLookup | None = None
) -> PreflightReport:
    seeds, synthesis = _seed_check(config)
    forecast = _forecast(config, synthesis, environ) if synthesis is not None else None
    asks = forecast is None or forecast.total.requests > 0  # unreadable seeds: assume the run would ask
    checks = [check for check in (seeds,) if check is not None]
    if asks:
        checks += _teacher_checks(config, forecast, environ, secret_exists)
        checks += _cache_checks(config)
    else:
        checks.append(Check("teacher key", True, "not needed: the run asks no teacher"))
    checks += [*_filter_checks(config), _contract_check(config), *_runner_checks(config), *_sandbox_checks(config),
               _root_check(config), _forecast_check(config, forecast, environ)]
    return PreflightReport(checks, forecast)


def _seed_check(config: RunConfig) -> tuple[Check | None, Estimate | None]:
    """The recipe's estimate, which reads (and so checks) its seeds, documents, topics, taxonomy or toolset; a recipe
    that runs programs gets the run's sandbox, as in the flow (a toolset is opened under its limits and isolation)."""
    from synthfoundry.sandbox.core import Sandbox, SandboxUnavailable

    recipe = config.recipe
    named = [name for name in ("documents", "seed_tasks", "seeds", "taxonomy", "topics_file", "outline_file", "path",
                               "toolset")
             if getattr(recipe, name, None) is not None]
    where = f"recipe.{(named or ['documents'])[0]}" if named or "documents" in type(recipe).model_fields else "recipe"
    try:
        sandbox = Sandbox(config.sandbox) if config.runs_code else None
    except SandboxUnavailable:  # the sandbox check says so; an estimate that runs nothing still reads the seeds
        sandbox = None
    module = get_recipe(recipe.name)
    try:
        estimate = module.estimate(recipe, **code_tools(module, sandbox))
    except (ValueError, OSError, SandboxUnavailable) as error:  # unreadable or empty seeds, a toolset that cannot run
        return Check(where, False, str(error)), None
    if where == "recipe":  # the shipped seeds: nothing of the user's to report on
        return None, estimate
    return Check(where, True, f"readable: the recipe passes on at most {estimate.rows} rows"), estimate


def _forecast(config: RunConfig, synthesis: Estimate, environ: Mapping[str, str]) -> RunForecast:
    """Each stage priced at the model that answers it: the run's teacher, or a filter's own judge or policy."""
    teacher = config.teacher
    stages = {"synthesis": synthesis}
    rows, row_tokens = synthesis.rows, synthesis.row_tokens
    if config.distills:  # rows that came with a response (loaded data) pass through unasked
        asked = (rows - synthesis.answered) * teacher.n
        rows = synthesis.answered + asked
        answer = min(teacher.expected_output_tokens or teacher.max_tokens, teacher.max_tokens)
        stages["distillation"] = Estimate.asking(asked, synthesis.row_tokens, answer).passing(rows)
        row_tokens += teacher.max_tokens  # a filter that reads the row reads the answer too
    costs = [_cost(teacher, estimate, environ) for estimate in stages.values()]
    for step in config.filters:  # a filter that asks has `estimate(config, rows, row_tokens)`
        estimate = getattr(get_filter(step.name), "estimate", None)
        if estimate is not None:
            stages[step.name] = estimate(step, rows, row_tokens)
            costs.append(_cost(_step_teacher(step)[1] or teacher, stages[step.name], environ))
    return RunForecast(stages, None if None in costs else sum(costs))


def _step_teacher(step) -> tuple[str, TeacherConfig | None]:
    """The field naming a filter step's own teacher (its judge or policy), and that teacher if it is set."""
    for name in ("judge", "policy"):
        own = getattr(step, name, None)
        if isinstance(own, TeacherConfig):
            return name, own
    return "", None


def _cost(teacher: TeacherConfig, estimate: Estimate, environ: Mapping[str, str]) -> float | None:
    if not estimate.requests:
        return 0.0
    price = _price(teacher, environ)
    return price.cost(estimate.prompt_tokens, estimate.completion_tokens) if price else None


def _asked(config: RunConfig, forecast: RunForecast | None) -> list[tuple[str, TeacherConfig]]:
    """The run's teacher and the filters' own teachers that the run will ask (all of them if it is unknown)."""
    teachers = [("teacher", config.teacher)]
    for index, step in enumerate(config.filters):
        name, own = _step_teacher(step)
        if own is not None and (forecast is None or step.name in forecast.stages):
            teachers.append((f"filters[{index}].{name}", own))
    return teachers


def _model(teacher: TeacherConfig, environ: Mapping[str, str]) -> str:
    return teacher.model or DEFAULT_MODELS.get(resolve_provider(teacher, environ=environ), "local")


def _price(teacher: TeacherConfig, environ: Mapping[str, str]) -> Price | None:
    provider = resolve_provider(teacher, environ=environ)
    overrides = {name: Price(p.input, p.output) for name, p in teacher.prices.items()}
    price = price_for(provider, _model(teacher, environ), overrides)
    return price.batch() if price and teacher.mode == "batch" and provider != "local" else price


def _teacher_checks(
    config: RunConfig, forecast: RunForecast | None, environ: Mapping[str, str], secret_exists: SecretLookup | None
) -> list[Check]:
    """The key and endpoint of every teacher the run asks: its own, the fallback, and filters' own judges."""
    teachers = _asked(config, forecast)
    if config.teacher.fallback is not None:
        endpoint = config.teacher.fallback.model_dump(exclude={"after_failures"})
        teachers.insert(1, ("fallback", config.teacher.model_copy(update={**endpoint, "fallback": None})))
    checks = []
    for name, teacher in teachers:
        provider = resolve_provider(teacher, environ=environ)
        if teacher.base_url is not None:
            url = urlparse(teacher.base_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                checks.append(Check(f"{name}.base_url", False, f"{teacher.base_url!r} is not an http(s) URL with a "
                                                               "host, e.g. http://127.0.0.1:8000/v1"))
        if provider == "local" and teacher.model_path is not None and not Path(teacher.model_path).is_file():
            checks.append(Check(f"{name}.model_path", False, f"{teacher.model_path}: no such file (a local GGUF model)"))
        problem = missing_key(teacher, environ)
        if problem is None and provider != "local" and teacher.api_key_secret and secret_exists is not None:
            if not secret_exists(teacher.api_key_secret):
                problem = (f"{name}.api_key_secret: no Prefect Secret block named {teacher.api_key_secret!r}: create it "
                           f"(UI: Blocks > Secret, or `Secret(value=KEY).save({teacher.api_key_secret!r})`), or leave "
                           f"api_key_secret out and set {key_variable(teacher, provider)}")
        checks.append(Check(f"{name} key", problem is None, problem or f"{provider}: {_key_source(teacher, provider)}"))
    return checks


def _cache_checks(config: RunConfig) -> list[Check]:
    """The request cache opens as SQLite: a corrupt file would otherwise fail every request with no path named."""
    path = config.teacher.with_cache_under(config.publish.root).cache_path
    if not config.teacher.cache or path is None or "://" in str(path) or not Path(path).exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.execute("SELECT name FROM sqlite_master").fetchall()
    except sqlite3.Error as error:
        return [Check("teacher.cache_path", False, f"{path}: not a readable request cache ({error}): move the file "
                                                   "away (the run starts a new cache) or set teacher.cache_path")]
    return [Check("teacher.cache_path", True, f"{path}: opens")]


def _runner_checks(config: RunConfig) -> list[Check]:
    """The Dask scheduler answers at runner.address (a short connect, not the 30 s the runner would wait)."""
    address = config.runner.address
    if config.runner.kind != "dask" or not address:
        return []
    url = urlparse(address if "://" in address else f"tcp://{address}")
    try:
        with socket.create_connection((url.hostname or "", url.port or 8786), timeout=3):
            pass
    except (OSError, ValueError) as error:
        return [Check("runner.address", False, f"{address}: no Dask scheduler answers there ({error}): start one "
                                               "(`dask scheduler`), correct the address, or leave runner.address out "
                                               "to start a local cluster")]
    return [Check("runner.address", True, f"{address}: a scheduler answers")]


def _filter_checks(config: RunConfig) -> list[Check]:
    """Each step against what it reads: the benchmarks it compares with, the answers it verifies."""
    from synthfoundry.benchmarks import load_items
    from synthfoundry.recipes import RECIPES

    checks = []
    answers = _answers(config)
    with_answers = ", ".join(name for name, recipe in RECIPES.items() if getattr(recipe, "ANSWERS", False))
    why = getattr(get_recipe(config.recipe.name), "UNSCORED", None) or (
        f"never gives a row one: remove the step, or use a recipe whose rows carry answers ({with_answers})")
    for index, step in enumerate(config.filters):
        where = f"filters[{index}]"
        if getattr(get_filter(step.name), "NEEDS_ANSWERS", False) and answers is False:
            checks.append(Check(where, False, (
                f"{step.name} scores rows against their ground truth (answer + verifier), and recipe "
                f"{config.recipe.name} {why}"
            )))
        for number, benchmark in enumerate(getattr(step, "benchmarks", ())):
            try:
                texts = load_items(benchmark).texts
            except (ValueError, OSError) as error:
                checks.append(Check(f"{where}.benchmarks[{number}]", False, str(error)))
                continue
            ok = texts.drop_nulls().len() > 0
            detail = f"{benchmark.path}: {texts.len()} texts" if ok else (
                f"benchmark {benchmark.name!r}: {benchmark.path} has no rows in {', '.join(benchmark.columns)}: "
                "point `path` at the benchmark's items, or remove it")
            checks.append(Check(f"{where}.benchmarks[{number}]", ok, detail))
    return checks


def _answers(config: RunConfig) -> bool | None:
    """Whether the recipe's rows carry a ground truth (answer + verifier); None: the recipe does not say."""
    recipe = get_recipe(config.recipe.name)
    return getattr(config.recipe, "answers", getattr(recipe, "ANSWERS", None))


def _key_source(teacher: TeacherConfig, provider: str) -> str:
    if provider == "local":
        return "local model: no key needed"
    if teacher.api_key_secret:
        return f"from the Prefect Secret block {teacher.api_key_secret!r}"
    return "key present" if teacher.base_url is None else f"key present or not needed at {teacher.base_url}"


def _contract_check(config: RunConfig) -> Check:
    from synthfoundry.contracts import ContractError, load_suite, suite_path

    try:
        suite = load_suite(suite_path(config.contract_suite))
    except (ContractError, OSError) as error:
        return Check("contract", False, str(error))
    unfilled = _unfilled(config, suite)
    if unfilled:
        default = config.model_copy(update={"contract": None}).contract_suite
        return Check("contract", False, (
            f"suite {suite.name!r} requires {', '.join(unfilled)} on every row, and recipe {config.recipe.name} never "
            f"fills {'it' if len(unfilled) == 1 else 'them'}: the contract would fail after the run is paid; leave "
            f"`contract` out (the recipe's is {default!r}) or use a recipe that fills them"
        ))
    return Check("contract", True, f"suite {suite.name!r}: {len(suite.expectations)} expectations ({suite.source})")


def _unfilled(config: RunConfig, suite) -> list[str]:
    """Columns the chosen suite requires on every row that the recipe's own contract does not promise (plus the
    answer and verifier of a recipe that gives them): a contract chosen for another kind of dataset."""
    from synthfoundry.contracts import load_suite, suite_path

    default = config.model_copy(update={"contract": None}).contract_suite
    if config.contract is None or default == config.contract:
        return []
    filled = _required(load_suite(suite_path(default)))
    if _answers(config):
        filled |= {"answer", "verifier"}
    return sorted(_required(suite) - filled)


def _required(suite) -> set[str]:
    return {e.kwargs["column"] for e in suite.expectations
            if e.expectation == "expect_column_values_to_not_be_null" and "column" in e.kwargs}


def _sandbox_checks(config: RunConfig) -> list[Check]:
    """The isolation model-written code will run under works here (checked when the run runs code, or names one)."""
    from synthfoundry.sandbox.core import SandboxUnavailable, resolve_isolation

    if not config.runs_code and "sandbox" not in config.model_fields_set:
        return []
    try:
        isolation = resolve_isolation(config.sandbox.isolation)
    except SandboxUnavailable as error:
        return [Check("sandbox.isolation", False, str(error))]
    if isolation == "none":
        return [Check("sandbox.isolation", True, "none: model-written code runs UNSANDBOXED, as the config asks "
                                                 "(recorded in the manifest and on the card)")]
    return [Check("sandbox.isolation", True, f"{isolation}: works here")]


def _root_check(config: RunConfig) -> Check:
    """Write and remove a probe where the run will publish, through the store's own folder (so with
    `publish.storage_options`)."""
    from synthfoundry.dataset.errors import StoreUnreachable
    from synthfoundry.dataset.files import Folder

    try:
        Folder(config.publish.root, config.publish.storage_options).check_writable()
    except StoreUnreachable as error:
        return Check("publish root", False, str(error))
    return Check("publish root", True, f"{config.publish.root.rstrip('/')}: writable")


def _forecast_check(config: RunConfig, forecast: RunForecast | None, environ: Mapping[str, str]) -> Check:
    teacher = config.teacher
    unpriced = [(name, t) for name, t in _asked(config, forecast) if _price(t, environ) is None]
    if unpriced and teacher.budget_usd is not None:
        name, unpriced_teacher = unpriced[0]
        return Check("forecast", False, f"teacher.budget_usd needs a price for model {_model(unpriced_teacher, environ)!r}"
                                        f": add it to {name}.prices (USD per million input and output tokens)")
    if forecast is None:
        return Check("forecast", True, "not made: the seeds could not be read")
    requests = forecast.total.requests
    if teacher.max_requests is not None and requests > teacher.max_requests:
        return Check("forecast", False, (
            f"the run may send up to {requests} requests ({forecast.summary()}), more than teacher.max_requests "
            f"({teacher.max_requests}): ask for less (fewer seeds or documents, a lower teacher.n), or raise "
            "teacher.max_requests (null: no limit)"
        ))
    budget = teacher.budget_usd
    if requests and budget is not None and forecast.usd > budget and not teacher.allow_over_forecast:
        return Check("forecast", False, (
            f"the forecast (${forecast.usd:.4f}, {forecast.summary()}) exceeds teacher.budget_usd (${budget}): raise "
            "the budget, ask for less, or set teacher.allow_over_forecast: true to start anyway (rows past the "
            "budget then go to the ledger unsent)"
        ))
    return Check("forecast", True, forecast.summary() + (f"; budget ${budget}" if budget is not None else ""))
