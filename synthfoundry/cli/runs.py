"""Running: run and validate a run config, evaluate versions, promote one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthfoundry.cli.common import ROOT, Dataset, Json, Root, Storage, as_table, command, dataset_store, print_result
from synthfoundry.errors import UserError


def _secret_exists(name: str) -> bool:
    from tasks.teacher import secret_exists  # imports Prefect: only for a config that names a Secret block

    return secret_exists(name)


@command
def run(config: Annotated[Path, typer.Argument(help="run config (YAML)")], as_json: Json = False) -> None:
    """Run CONFIG through the flow and publish the next version.

    The `validate` checks run first: a run that cannot succeed stops before Prefect starts or a request is sent.
    """
    from synthfoundry.preflight import preflight_file

    report = preflight_file(config, secret_exists=_secret_exists)
    if not report.ok:
        raise UserError("; ".join(report.problems) + f" (see `synthfoundry validate {config}`)")
    from flows.ephemeral import ephemeral_api
    from flows.generate import generate_dataset

    with ephemeral_api():
        path = generate_dataset(config_path=str(config))
    print_result({"published": path}, as_json, f"published: {path}")


@command
def validate(config: Annotated[Path, typer.Argument(help="run config (YAML)")], as_json: Json = False) -> None:
    """Check CONFIG before paying for anything: no request is sent.

    Config, seeds and documents readable, keys present, contract found, publish root writable, budget vs price.
    """
    from dataclasses import asdict

    from synthfoundry.preflight import preflight_file

    checks = preflight_file(config, secret_exists=_secret_exists).checks
    text = "\n".join(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in checks)
    print_result([asdict(c) for c in checks], as_json, text)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@command
def evaluate(config: Annotated[Path, typer.Argument(help="evaluation config (YAML)")], as_json: Json = False) -> None:
    """Train the student on each arm of CONFIG and compare the arms on held-out tasks.

    The result is recorded beside the versions and shown on their cards; `promote --if-better-than` reads it.
    """
    from synthfoundry.evaluation import results
    from synthfoundry.evaluation.config import load_evaluation_config

    load_evaluation_config(config)  # a bad config is one error before Prefect starts
    from flows.ephemeral import ephemeral_api
    from flows.evaluate import evaluate_dataset

    with ephemeral_api():
        record = evaluate_dataset(config_path=str(config))
    summary = {key: record[key] for key in ("id", "dataset", "arms", "sets", "scores", "differences", "seed_variance")}
    tables = [results.table(record), results.difference_table(record), results.seed_table(record)]
    text = "\n\n".join([f"evaluation {record['id']}", *(as_table(rows) for rows in tables if rows)])
    print_result(summary, as_json, text)


@command
def promote(
    dataset: Dataset,
    version: Annotated[int, typer.Argument(help="the version number to promote")],
    tag_name: Annotated[str, typer.Option("--tag", help="the tag to move, e.g. stable")] = "stable",
    if_better_than: Annotated[str | None, typer.Option(
        "--if-better-than", help="only if a recorded evaluation shows VERSION better than this tag's version")] = None,
    root: Root = ROOT,
    storage: Storage = None,
    as_json: Json = False,
) -> None:
    """Point --tag at VERSION, gated on the recorded evaluation with --if-better-than."""
    from synthfoundry.evaluation.promotion import promote as promote_version

    message = promote_version(dataset_store(root, dataset, storage), version, tag_name, if_better_than)
    print_result({"promoted": True, "tag": tag_name, "version": f"v{version}", "message": message}, as_json, message)
