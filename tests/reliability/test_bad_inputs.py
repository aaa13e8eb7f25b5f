"""Bad inputs, tried as a new user would make them: each is refused with a message saying what, where and how to
fix it, before anything is sent, and the published dataset beside it is untouched."""

import io
import re
import socket
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from flows.generate import generate_dataset
from synthfoundry.config import ConfigError
from synthfoundry.dataset import DatasetStore
from synthfoundry.teachers.base import CircuitOpen, TeacherError
from tasks.failures import ContractFailed, PreflightFailed
from tests.fakes.provider_server import ProviderServer, status
from tests.reliability.runs import run_flow, run_logs

pytestmark = pytest.mark.usefixtures("prefect_harness")

NOWHERE = "http://127.0.0.1:9/v1"  # nothing listens there: a case that reached the teacher would fail differently
TEACHER = {"provider": "openai", "model": "fake-teacher", "base_url": NOWHERE, "max_retries": 0}
SELF_INSTRUCT = {"name": "self_instruct", "target_instructions": 2, "prompts_per_round": 1, "max_rounds": 1}


@pytest.fixture(scope="module")
def published(tmp_path_factory, prefect_harness):
    """A dataset with v1 published (procedural: no teacher), which no bad input may touch."""
    root = tmp_path_factory.mktemp("published")
    path = root / "good.yaml"
    path.write_text(yaml.safe_dump({"dataset": "demo", "seed": 1, "publish": {"root": str(root)},
                                    "recipe": {"name": "procedural", "datasets": {"basic_arithmetic": 3}}}))
    generate_dataset(config_path=str(path))
    store = DatasetStore(root, "demo")
    return root, store.read()


def write(tmp: Path, name: str, text: str | bytes) -> str:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def run(recipe=SELF_INSTRUCT, teacher=TEACHER, **overrides) -> dict:
    return {"dataset": "demo", "seed": 1, "recipe": recipe, "teacher": teacher, **overrides}


# id -> (tmp -> config dict or a raw config file's text/bytes, exception, message pattern)
CASES = {
    # configs
    "unknown-field": (lambda t: run(datset="x"), ConfigError, r"datset: unknown field \(check the spelling"),
    "key-in-config": (lambda t: run(teacher={**TEACHER, "api_key": "sk-x"}), ConfigError,
                      r"teacher.api_key: unknown field .*keys belong in the environment"),
    "unknown-recipe": (lambda t: run(recipe={"name": "selfinstruct"}), ConfigError, r"recipe.name: must name a recipe"),
    "bad-dataset-name": (lambda t: run(dataset="my data"), ConfigError, r"dataset: Value error, must be 1-64 letters"),
    "temperature-range": (lambda t: run(teacher={**TEACHER, "temperature": 5}), ConfigError,
                          r"teacher.temperature: Input should be less than or equal to 2"),
    "zero-samples": (lambda t: run(teacher={**TEACHER, "n": 0}), ConfigError, r"teacher.n: Input should be greater"),
    "unknown-filter": (lambda t: run(filters=[{"name": "dedup"}]), ConfigError, r"filters\[0\].name: must name a filter"),
    "filter-twice": (lambda t: run(filters=[{"name": "diversity"}, {"name": "diversity"}]), ConfigError,
                     r"lists diversity more than once"),
    "zero-batch": (lambda t: run(batch_size=0), ConfigError, r"batch_size: Input should be greater than or equal to 1"),
    "unknown-procedural-dataset": (lambda t: run(recipe={"name": "procedural", "datasets": {"basic_arithmatic": 2}}),
                                   ConfigError, r"unknown reasoning-gym dataset 'basic_arithmatic' \(did you mean"),
    "turns-reversed": (lambda t: run(recipe={"name": "ultrachat", "min_turns": 5, "max_turns": 2}), ConfigError,
                       r"min_turns \(5\) is more than max_turns \(2\)"),
    "duplicate-key": (lambda t: "dataset: demo\nrecipe: {name: self_instruct}\ndataset: other\n", ConfigError,
                      r"not valid YAML at line 3, column 1: duplicate key 'dataset' \(first at line 1\)"),
    "yaml-syntax": (lambda t: "dataset: demo\nrecipe: {name: [\n", ConfigError, r"not valid YAML at line \d+, column \d+"),
    "utf16-config": (lambda t: "dataset: demo\n".encode("utf-16"), ConfigError,
                     r"the run config is not UTF-8 text \(it looks like UTF-16\).*save the file as UTF-8"),
    "list-config": (lambda t: "- dataset: demo\n", ConfigError, r"expected a mapping at the top level, got list"),
    # seeds
    "missing-seed-file": (lambda t: run(recipe={**SELF_INSTRUCT, "seed_tasks": str(t / "nope.jsonl")}), PreflightFailed,
                          r"recipe.seed_tasks: .*nope.jsonl: cannot read seed tasks \(No such file or directory\)"),
    "latin1-seed-file": (lambda t: run(recipe={**SELF_INSTRUCT, "seed_tasks": write(
                             t, "s.jsonl", '{"instruction": "Écris"}\n'.encode("latin-1"))}), PreflightFailed,
                         r"s.jsonl: seed tasks is not UTF-8 text: byte 0xc9 at offset 17; save the file as UTF-8"),
    "empty-seed-file": (lambda t: run(recipe={**SELF_INSTRUCT, "seed_tasks": write(t, "s.jsonl", "\n")}),
                        PreflightFailed, r"s.jsonl: no seed tasks"),
    "bad-seed-line": (lambda t: run(recipe={**SELF_INSTRUCT, "seed_tasks": write(
                          t, "s.jsonl", '{"instruction": "Sort."}\n{"instr": "x"}\n')}), PreflightFailed,
                      r"s.jsonl:2: expected a JSON object with an 'instruction' string"),
    "metamath-no-answer": (lambda t: run(recipe={"name": "metamath", "seeds": write(
                               t, "m.jsonl", '{"question": "1+1?"}\n')}), PreflightFailed,
                           r"m.jsonl:1: expected a JSON object with 'question' and 'answer'"),
    "metamath-empty": (lambda t: run(recipe={"name": "metamath", "seeds": write(t, "m.jsonl", "")}), PreflightFailed,
                       r"m.jsonl: no seed questions"),
    "evol-missing-seeds": (lambda t: run(recipe={"name": "evol_instruct", "seed_tasks": str(t / "e.jsonl")}),
                           PreflightFailed, r"e.jsonl: cannot read seed tasks"),
    "empty-topics": (lambda t: run(recipe={"name": "cosmopedia", "topics_file": write(t, "topics.txt", "\n \n")}),
                     PreflightFailed, r"topics.txt: no topics \(one per line\); an empty file is refused"),
    "missing-topics": (lambda t: run(recipe={"name": "cosmopedia", "topics_file": str(t / "t.txt")}), PreflightFailed,
                       r"t.txt: cannot read topics"),
    "taxonomy-missing-list": (lambda t: run(recipe={"name": "ultrachat", "taxonomy": write(
                                  t, "tax.yaml", "meta_concepts: [a]\n")}), PreflightFailed,
                              r"tax.yaml: `material_types` must be a non-empty list of strings"),
    "taxonomy-duplicate-key": (lambda t: run(recipe={"name": "ultrachat", "taxonomy": write(
                                   t, "tax.yaml", "meta_concepts: [a]\nmeta_concepts: [b]\nmaterial_types: [c]\n")}),
                               PreflightFailed, r"tax.yaml: not valid YAML at line 2.*duplicate key 'meta_concepts'"),
    # documents
    "glob-matches-nothing": (lambda t: run(recipe={"name": "wrap", "documents": str(t / "docs" / "*.txt")}),
                             PreflightFailed, r"recipe.documents: no readable document in .*\*.txt: .*no documents found"),
    "missing-folder": (lambda t: run(recipe={"name": "backtranslation", "documents": str(t / "corpus")}),
                       PreflightFailed, r"no readable document in .*corpus"),
    "non-utf8-documents": (lambda t: run(recipe={"name": "mammoth2", "documents": str(Path(write(
                               t, "docs/a.txt", b"\xff\xfe\x00bad")).parent)}), PreflightFailed,
                           r"no readable document in .*docs \(0 documents readable\): .*a.txt: "
                           r"cannot read: UnicodeDecodeError"),
    "wrong-text-field": (lambda t: run(recipe={"name": "wrap", "documents": write(
                             t, "d.jsonl", '{"body": "a long enough text about bread and its dough"}\n')}),
                         PreflightFailed, r"d.jsonl:1: field 'text' is missing or not a string"),
    "cosmopedia-unreadable": (lambda t: run(recipe={"name": "cosmopedia", "documents": str(t / "none" / "*.html")}),
                              PreflightFailed, r"recipe.documents: no seeds: the documents .* gave no readable"),
    # contracts
    "unknown-suite": (lambda t: run(contract="stf"), PreflightFailed,
                      r"contract: no contract suite 'stf' in .*data_contracts \(available: chat, .*sft.*\)"),
    "suite-missing-file": (lambda t: run(contract=str(t / "c" / "mine.yaml")), PreflightFailed,
                           r"mine.yaml: cannot read the contract suite \(No such file"),
    "suite-bad-yaml": (lambda t: run(contract=write(t, "c.yaml", "name: x\nexpectations: [\n")), PreflightFailed,
                       r"c.yaml: not valid YAML at line"),
    "suite-unknown-expectation": (lambda t: run(contract=write(t, "c.yaml", yaml.safe_dump({"name": "c", "expectations": [
                                      {"expectation": "expect_column_to_exist_typo", "kwargs": {"column": "id"}}]}))),
                                  PreflightFailed, r"expectations\[0\] expect_column_to_exist_typo: unknown expectation"),
    "suite-duplicate-key": (lambda t: run(contract=write(t, "c.yaml", "name: a\nname: b\nexpectations: []\n")),
                            PreflightFailed, r"c.yaml: not valid YAML at line 2.*duplicate key 'name'"),
    # publish roots
    "empty-root": (lambda t: run(publish={"root": ""}), ConfigError, r"publish.root: .*'an empty path' is not a publish root"),
    "home-root": (lambda t: run(publish={"root": "~"}), ConfigError, r"publish.root: .*'~' is not a publish root"),
    "root-is-a-file": (lambda t: run(publish={"root": write(t, "afile", "x")}), PreflightFailed,
                       r"publish root: .*afile: cannot write there \(\w+Error: .*\): choose a folder you can write to"),
    "root-under-a-file": (lambda t: run(publish={"root": write(t, "f", "x") + "/data"}), PreflightFailed,
                          r"publish root: .*f/data: cannot write there \(\w+Error"),
    # keys and endpoints
    "openai-no-key": (lambda t: run(teacher={"provider": "openai"}), PreflightFailed,
                      r"no API key for the openai teacher: set OPENAI_API_KEY \(or teacher.api_key_env\)"),
    "anthropic-no-key": (lambda t: run(teacher={"provider": "anthropic"}), PreflightFailed,
                         r"no API key for the anthropic teacher: set ANTHROPIC_API_KEY"),
    "named-key-unset": (lambda t: run(teacher={"provider": "openai", "api_key_env": "MY_TEAM_KEY"}), PreflightFailed,
                        r"no API key for the openai teacher: set MY_TEAM_KEY"),
    "fallback-no-key": (lambda t: run(teacher={**TEACHER, "fallback": {"provider": "anthropic"}}), PreflightFailed,
                        r"fallback key: no API key for the anthropic teacher"),
    "base-url-no-scheme": (lambda t: run(teacher={**TEACHER, "base_url": "127.0.0.1:8000/v1"}), PreflightFailed,
                           r"teacher.base_url: '127.0.0.1:8000/v1' is not an http\(s\) URL with a host"),
    "base-url-ftp": (lambda t: run(teacher={**TEACHER, "base_url": "ftp://127.0.0.1/v1"}), PreflightFailed,
                     r"teacher.base_url: 'ftp://127.0.0.1/v1' is not an http\(s\) URL"),
    "local-model-missing": (lambda t: run(teacher={"provider": "local", "model_path": str(t / "m.gguf")}),
                            PreflightFailed, r"teacher.model_path: .*m.gguf: no such file"),
    # spend guards
    "n-too-large": (lambda t: run(teacher={**TEACHER, "n": 200000}), PreflightFailed,
                    r"the run may send up to \d+ requests .* more than teacher.max_requests \(5000\)"),
    "over-budget": (lambda t: run(teacher={**TEACHER, "model": "gpt-4o", "budget_usd": 0.00001}), PreflightFailed,
                    r"exceeds teacher.budget_usd \(\$1e-05\): .*teacher.allow_over_forecast: true"),
    "budget-without-price": (lambda t: run(teacher={**TEACHER, "budget_usd": 1}), PreflightFailed,
                             r"teacher.budget_usd needs a price for model 'fake-teacher'"),
    # what only the teacher can tell: fails fast, once, with the reason
    "dead-endpoint": (lambda t: run(recipe={**SELF_INSTRUCT, "prompts_per_round": 4}, teacher={**TEACHER, "circuit_breaker": 2}),
                      CircuitOpen, r"at http://127.0.0.1:9/v1 failed the last 2 requests in a row.*APIConnectionError.*check that"),
    "every-row-failed": (lambda t: run(), ContractFailed, r"No row survived the filters. Most dropped: synthesis: "
                         r"teacher failed: APIConnectionError: Connection error. \(1\)"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_input_is_refused_with_its_fix_and_harms_nothing(case, tmp_path, published, record_property):
    root, before = published
    build, error, message = CASES[case]
    config = build(tmp_path)
    path = tmp_path / "run.yaml"
    if isinstance(config, dict):
        config.setdefault("publish", {"root": str(root)})
        path.write_text(yaml.safe_dump(config))
    else:
        path.write_bytes(config if isinstance(config, bytes) else config.encode())
    with pytest.raises(error, match=message):
        generate_dataset(config_path=str(path))
    store = DatasetStore(root, "demo")
    assert [v.tag for v in store.versions()] == ["v1"] and store.read().equals(before)
    record_property("bad_inputs_refused", 1)


def test_a_provider_refusal_is_not_retried(tmp_path, published):
    root, _ = published
    with ProviderServer() as server:
        server.rules.append(lambda r: status(401, "invalid api key"))
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(run(teacher={**TEACHER, "base_url": server.base_url}, publish={"root": str(root)})))
        with pytest.raises(TeacherError, match=r"refused the request \(HTTP 401\): .*invalid api key"):
            generate_dataset(config_path=str(path))
        assert server.count == 1  # neither the SDK nor Prefect's task retries asked again


# id -> (tmp -> config dict, the message the console shows): expected failures run as a user runs them
CONSOLE = {
    "unknown-field": (lambda t: run(datset="x"), r"datset: unknown field"),
    "over-budget": (CASES["over-budget"][0], r"exceeds teacher.budget_usd"),
    "bad-seeds-file": (CASES["latin1-seed-file"][0], r"s.jsonl: seed tasks is not UTF-8 text"),
    "root-not-writable": (CASES["root-is-a-file"][0], r"afile: cannot write there"),
    "no-row-survived": (CASES["every-row-failed"][0], r"No row survived the filters"),
    "contract-failed": (lambda t: run(recipe={"name": "procedural", "datasets": {"basic_arithmetic": 3}}, contract=write(
                            t, "c.yaml", yaml.safe_dump({"name": "strict", "expectations": [
                                {"expectation": "expect_column_to_exist", "kwargs": {"column": "rationale"}}]}))),
                        r"contract 'strict' failed: 1 of 1 expectations not met\n  - expect_column_to_exist\(column='rationale'\)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CONSOLE, ids=list(CONSOLE))
def test_an_expected_failure_prints_its_message_and_no_traceback(case, tmp_path, published):
    """`python -m flows.generate` as a user runs it: a non-zero exit, the message, and no traceback in the console
    or in the run's logs (tracebacks are for bugs)."""
    root, _ = published
    build, message = CONSOLE[case]
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"publish": {"root": str(root)}, **build(tmp_path)}))
    code, output = run_flow(path)
    assert code != 0, output
    assert re.search(message, output), output
    assert "Traceback" not in output, output
    logs = run_logs(re.search(r"flow-run/([0-9a-f-]{36})", output)[1])
    assert logs and not any("Traceback" in line for line in logs), logs
    assert any(re.search(message, line) for line in logs), logs


def corrupt_cache(tmp: Path, root: Path) -> dict:
    cache = tmp / "cache.sqlite"
    cache.write_bytes(b"this is not a database" * 200)
    return run(teacher={**TEACHER, "cache_path": str(cache)})


def dead_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def no_rows() -> bytes:
    out = io.BytesIO()
    pl.DataFrame(schema={"question": pl.String}).write_parquet(out)
    return out.getvalue()


def benchmark(tmp: Path, name: str, text: str, columns=("question",)) -> dict:
    return run(filters=[{"name": "decontamination", "benchmarks": [
        {"name": "bench", "path": write(tmp, name, text), "columns": list(columns)}]}])


# id -> (tmp -> config dict or raw text, the field the message names, the message): what preflight reads before
# any request, each run the two ways a user meets it (the flow, `synthfoundry validate`)
PREFLIGHT = {
    "empty-config": (lambda t: "", "config", r"the run config is empty: write at least `dataset:` and `recipe:`"),
    "benchmark-missing": (lambda t: run(filters=[{"name": "decontamination", "benchmarks": [
                              {"name": "bench", "path": str(t / "nope.jsonl"), "columns": ["question"]}]}]),
                          "filters[0].benchmarks[0]", r"benchmark 'bench': no file at .*nope.jsonl"),
    "benchmark-empty-file": (lambda t: benchmark(t, "b.jsonl", ""), "filters[0].benchmarks[0]",
                             r"benchmark 'bench': .*b.jsonl is empty: point `path` at the benchmark's items"),
    "benchmark-no-rows": (lambda t: benchmark(t, "b.parquet", no_rows()), "filters[0].benchmarks[0]",
                          r"benchmark 'bench': .*b.parquet has no rows \(give a file with items\)"),
    "benchmark-wrong-column": (lambda t: benchmark(t, "b.jsonl", '{"prompt": "What is 2+2?"}\n'),
                               "filters[0].benchmarks[0]", r"b.jsonl has no column 'question' \(its columns: prompt\)"),
    "documents-pdf-only": (lambda t: run(recipe={"name": "wrap", "documents": str(Path(write(t, "docs/a.pdf", b"%PDF"))
                                                                                     .parent)}),
                           "recipe.documents", r"types read: \.txt, \.md, .*; it holds only \.pdf files"),
    "contract-rlvr-on-sft": (lambda t: run(contract="rlvr"), "contract",
                             r"suite 'rlvr' requires answer, verifier on every row, and recipe self_instruct never "
                             r"fills them: .*leave `contract` out \(the recipe's is 'sft'\)"),
    "pass-rate-without-answers": (lambda t: run(filters=[{"name": "pass_rate"}]), "filters[0]",
                                  r"pass_rate scores rows against their ground truth .* recipe self_instruct never "
                                  r"gives a row one: .*\(metamath, procedural, .*\)"),
    "missing-secret-block": (lambda t: run(teacher={**TEACHER, "api_key_secret": "no-such-block"}), "teacher key",
                             r"teacher.api_key_secret: no Prefect Secret block named 'no-such-block': create it"),
    "dask-unreachable": (lambda t: run(runner={"kind": "dask", "address": f"tcp://127.0.0.1:{dead_port()}"}),
                         "runner.address", r"tcp://127.0.0.1:\d+: no Dask scheduler answers there .*start one"),
    "corrupt-cache": (lambda t: corrupt_cache(t, t), "teacher.cache_path",
                      r"cache.sqlite: not a readable request cache \(file is not a database\): move the file away"),
}


def _config_file(tmp: Path, root: Path, build, base_url: str) -> Path:
    config = build(tmp)
    path = tmp / "run.yaml"
    if isinstance(config, dict):
        config.setdefault("publish", {"root": str(root)})
        config["teacher"] = {**config["teacher"], "base_url": base_url}
        path.write_text(yaml.safe_dump(config))
    else:
        path.write_text(config)
    return path


@pytest.mark.parametrize("case", PREFLIGHT, ids=list(PREFLIGHT))
def test_what_preflight_reads_is_refused_before_any_request(case, tmp_path, published):
    """The flow (`python -m flows.generate` in-process) against a live fake provider: refused with the field and the
    fix, not one request sent, nothing published; `synthfoundry validate` says the same and exits 1."""
    from typer.testing import CliRunner

    from synthfoundry.cli import app

    root, before = published
    build, field, message = PREFLIGHT[case]
    with ProviderServer() as server:
        path = _config_file(tmp_path, root, build, server.base_url)
        error = ConfigError if case == "empty-config" else PreflightFailed
        started = time.monotonic()
        with pytest.raises(error, match=message):
            generate_dataset(config_path=str(path))
        assert time.monotonic() - started < 60
        validated = CliRunner().invoke(app, ["validate", str(path)])
        assert server.count == 0
    assert validated.exit_code == 1, validated.output
    assert re.search(rf"FAIL  {re.escape(field)}: .*{message}", validated.output), validated.output
    store = DatasetStore(root, "demo")
    assert [v.tag for v in store.versions()] == ["v1"] and store.read().equals(before)


def test_export_to_an_existing_file_says_an_export_is_a_folder(tmp_path, published):
    from typer.testing import CliRunner

    from synthfoundry.cli import app

    root, _ = published
    taken = write(tmp_path, "out.jsonl", "mine")
    result = CliRunner().invoke(app, ["export", "demo", "--format", "jsonl", "--out", taken, "--root", str(root)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == f"error: --out {taken}: that is a file, and an export is a folder of files: give a " \
                                    "new folder or an existing one"
    assert Path(taken).read_text() == "mine"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing-secret-block", "dask-unreachable"])
def test_a_preflight_refusal_from_the_console_is_one_message_and_no_request(case, tmp_path, published):
    """`python -m flows.generate CONFIG` as a user runs it (these two printed tracebacks before preflight read them):
    exit 1, the field and the fix, no traceback, and the live fake provider never asked."""
    root, _ = published
    build, field, message = PREFLIGHT[case]
    with ProviderServer() as server:
        code, output = run_flow(_config_file(tmp_path, root, build, server.base_url))
        assert server.count == 0
    assert code == 1, output
    assert re.search(message, output) and field in output, output
    assert "Traceback" not in output, output
