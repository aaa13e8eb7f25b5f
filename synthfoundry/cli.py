"""`synthfoundry`: run, check and inspect published datasets, and export them for trainers.

Shape: `synthfoundry COMMAND DATASET --root ROOT ...`; the latest version unless `--version N`. Exit codes: 0 ok,
1 a user error (one line on stderr, no traceback), 2 a usage error. `--json` prints one JSON document for scripts.
Heavy libraries are imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from synthfoundry.errors import SynthfoundryError, UserError

app = typer.Typer(
    name="synthfoundry",
    help="Make, inspect and export versioned synthetic datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rendering it with rich costs 0.4 s of imports on every call
    context_settings={"help_option_names": ["-h", "--help"]},
)

Dataset = Annotated[str, typer.Argument(help="dataset name, as in the run config's `dataset`")]
Root = Annotated[str, typer.Option("--root", help="publish root: a folder or an object-store URI (s3://...)")]
Storage = Annotated[list[str] | None, typer.Option(
    "--storage-option", metavar="KEY=VALUE",
    help="an s3:// root's endpoint_url, region, key, secret, token or anon, as publish.storage_options (repeat it)",
)]
Version = Annotated[int | None, typer.Option("--version", help="version number N (vN); default: the latest")]
Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
ROOT = "synthfoundry-data"


def command(function):
    """Register a command whose user errors become one line on stderr and exit code 1."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except SynthfoundryError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None

    return app.command()(run)


def _store(root: str, dataset: str, storage: list[str] | None, committed: bool = True):
    """The dataset's store (reached with the `--storage-option`s), refused with one error naming place and dataset
    when nothing of it is there (before anything is created); `committed`: it must also have a published version
    (`check` and `repair` need not)."""
    from synthfoundry.dataset import DatasetStore
    from synthfoundry.dataset.storage import StorageOptions

    store = DatasetStore(root, dataset, storage=StorageOptions.parse(storage or []))
    if not store.exists():
        raise UserError(f"no dataset {dataset!r} under {root}: nothing was ever published there (is --root right?)")
    if committed and not store.versions():
        raise UserError(f"dataset {dataset!r} has no published version under {root} (is --root right?)")
    return store


def _print(payload, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str) if as_json else text)


def _table(rows: list[dict]) -> str:
    """Rows as aligned columns for the terminal."""
    if not rows:
        return "(none)"
    header = list(rows[0])
    cells = [[str("" if row.get(k) is None else row.get(k)) for k in header] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


# --- running -----------------------------------------------------------------------------------------------------


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
    _print({"published": path}, as_json, f"published: {path}")


@command
def validate(config: Annotated[Path, typer.Argument(help="run config (YAML)")], as_json: Json = False) -> None:
    """Check CONFIG before paying for anything: no request is sent.

    Config, seeds and documents readable, keys present, contract found, publish root writable, budget vs price.
    """
    from dataclasses import asdict

    from synthfoundry.preflight import preflight_file

    checks = preflight_file(config, secret_exists=_secret_exists).checks
    text = "\n".join(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in checks)
    _print([asdict(c) for c in checks], as_json, text)
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
    text = "\n\n".join([f"evaluation {record['id']}", _table(results.table(record)),
                         _table(results.difference_table(record))])
    _print(summary, as_json, text)


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

    message = promote_version(_store(root, dataset, storage), version, tag_name, if_better_than)
    _print({"promoted": True, "tag": tag_name, "version": f"v{version}", "message": message}, as_json, message)


# --- versions ----------------------------------------------------------------------------------------------------


@command
def versions(dataset: Dataset, root: Root = ROOT, storage: Storage = None, as_json: Json = False) -> None:
    """List the published versions, oldest first, with their tags."""
    store = _store(root, dataset, storage)
    tags: dict[int, list[str]] = {}
    for name, number in store.tags().items():
        if name != f"v{number}":
            tags.setdefault(number, []).append(name)
    rows = []
    for version in store.versions():
        manifest = version.manifest()
        rows.append({
            "version": version.tag,
            "created_at": manifest.get("created_at"),
            "added": manifest["rows"].get("added"),
            "total": manifest["rows"].get("total"),
            "tags": ",".join(sorted(tags.get(version.number, []))),
            "run_id": manifest.get("run_id"),
        })
    _print(rows, as_json, _table(rows))


@command
def show(
    dataset: Dataset, root: Root = ROOT, storage: Storage = None, version: Version = None, as_json: Json = False
) -> None:
    """Show a version: rows, stage counts, contract, cost, data files."""
    store = _store(root, dataset, storage)
    chosen = store.version(version)
    manifest = chosen.manifest()
    files = store.data_files(chosen.number)
    if as_json:
        _print({**manifest, "data_files": files}, True, "")
        return
    contract, cost = manifest.get("contract") or {}, manifest.get("cost") or {}
    requests = cost.get("requests", {})
    stages = [{"stage": name, **counts} for name, counts in manifest.get("stages", {}).items()]
    lines = [
        f"{dataset} {chosen.tag}  (parent {manifest.get('parent') or '-'}, created {manifest.get('created_at')})",
        f"rows: {manifest['rows'].get('added')} added, {manifest['rows'].get('total')} in total",
        f"contract: {contract.get('suite', '-')} {'passed' if contract.get('success') else 'FAILED' if contract else ''}",
        f"cost: ${cost.get('spent_usd') or 0:.4f} spent, {requests.get('sent', 0)} requests sent, "
        f"{requests.get('cached', 0)} cached (${cost.get('cached_usd') or 0:.4f} saved)",
        f"code: {manifest.get('code_version')}  run: {manifest.get('run_id')}",
        "",
        _table(stages),
        "",
        "data files:",
        *(f"  {path}" for path in files),
    ]
    typer.echo("\n".join(lines))


@command
def diff(
    dataset: Dataset,
    a: Annotated[int, typer.Argument(help="first version number")],
    b: Annotated[int, typer.Argument(help="second version number")],
    root: Root = ROOT,
    storage: Storage = None,
    as_json: Json = False,
) -> None:
    """Compare versions A and B: rows added and removed, cost, rows in and kept per stage."""
    store = _store(root, dataset, storage)
    store.version(a), store.version(b)
    changes = store.diff(a, b)
    stages = [
        {"stage": stage, **{f"{changes[side]} {count}": (counts[side] or {}).get(count, "-")
                            for side in ("a", "b") for count in ("in", "kept")}}
        for stage, counts in changes["stages"].items()
    ]
    lines = [
        f"{changes['a']} -> {changes['b']}: {changes['rows']['a']} -> {changes['rows']['b']} rows",
        f"added {changes['added']['count']}, removed {changes['removed']['count']}",
        f"cost: ${changes['cost_usd']['a']:.4f} -> ${changes['cost_usd']['b']:.4f}",
        "",
        _table(stages),
    ]
    _print(changes, as_json, "\n".join(lines))


@command
def tag(
    dataset: Dataset,
    name: Annotated[str, typer.Argument(help="tag name, e.g. nightly-2026-12-01 or best")],
    version: Version = None,
    delete: Annotated[bool, typer.Option("--delete", help="remove the tag instead")] = False,
    root: Root = ROOT,
    storage: Storage = None,
    as_json: Json = False,
) -> None:
    """Point tag NAME at a version (or remove it with --delete)."""
    store = _store(root, dataset, storage)
    if delete:
        store.untag(name)
        _print({"deleted": name}, as_json, f"deleted tag {name}")
        return
    chosen = store.version(version)
    store.tag(name, chosen.number)
    _print({"tag": name, "version": chosen.tag}, as_json, f"{name} -> {chosen.tag}")


@command
def rollback(
    dataset: Dataset,
    to: Annotated[int, typer.Option("--to", help="the earlier version whose rows the new version repeats")],
    root: Root = ROOT,
    storage: Storage = None,
    as_json: Json = False,
) -> None:
    """Publish a new version equal to version TO; history stays."""
    import uuid

    store = _store(root, dataset, storage)
    target = store.version(to)
    published = store.rollback(target.number, run_id=f"rollback-{uuid.uuid4().hex[:12]}")
    _print({"version": published.tag, "rollback_of": target.tag}, as_json,
           f"published {published.tag} = {target.tag}")


# --- inspecting --------------------------------------------------------------------------------------------------


@command
def ledger(
    dataset: Dataset,
    root: Root = ROOT,
    storage: Storage = None,
    version: Version = None,
    stage: Annotated[str | None, typer.Option("--stage", help="only this stage")] = None,
    examples: Annotated[int, typer.Option("--examples", min=0, help="example rows per reason")] = 2,
    as_json: Json = False,
) -> None:
    """Why rows were dropped: by stage and kind of reason, with examples."""
    import polars as pl

    from synthfoundry.ledger import by_stage
    from synthfoundry.report import DECONTAMINATION_STAGE, contamination_hits

    store = _store(root, dataset, storage)
    chosen = store.version(version)
    rejected = store.ledger(chosen.number)
    if stage is not None:
        stages = sorted(set(rejected["stage"].to_list()))
        if stage not in stages:
            raise UserError(f"{chosen.tag}'s ledger has no stage {stage!r}; it has {', '.join(stages) or 'none'}")
        rejected = rejected.filter(pl.col("stage") == stage)
    kinds = by_stage(rejected, examples=examples, top=50)
    benchmarks = contamination_hits(rejected)
    lines = [f"{dataset} {chosen.tag}: {rejected.height} rows dropped"]
    for current in dict.fromkeys(k["stage"] for k in kinds):
        of_stage = [k for k in kinds if k["stage"] == current]
        lines += ["", f"{current}: {sum(k['rows'] for k in of_stage)}"]
        if current == DECONTAMINATION_STAGE and benchmarks:
            lines.append("  by benchmark: " + ", ".join(f"{name} {rows}" for name, rows in benchmarks.items()))
        for kind in of_stage:
            lines.append(f"  {kind['rows']:>6}  {kind['kind']}")
            lines += [f"          - {e['reason']} | {(e['text'] or '')[:100]!r}" for e in kind["examples"][:examples]]
    _print(kinds, as_json, "\n".join(lines))


@command
def card(
    dataset: Dataset, root: Root = ROOT, storage: Storage = None, version: Version = None, as_json: Json = False
) -> None:
    """Evaluate a version and write its card beside the manifest.

    card.md, plots/*.png and evaluation.json; the card is printed too.
    """
    from synthfoundry import card as cards
    from synthfoundry import report

    store = _store(root, dataset, storage)
    chosen = store.version(version)
    figures = report.evaluate_version(store, chosen)
    images = report.plots(figures)
    written = cards.write_card(store, chosen, figures, images)
    if as_json:
        _print({"files": written, "evaluation": figures}, True, "")
        return
    plot_files = {name: f"plots/{name}.png" for name in images}
    typer.echo(cards.version_card(figures, plot_files, store.root).markdown())
    typer.echo(f"\nwritten: {next(p for p in written if p.endswith(cards.CARD))}", err=True)


@command
def export(
    dataset: Dataset,
    export_format: Annotated[str, typer.Option("--format", help="hf | trl | dpo | verl | jsonl | openai")],
    out: Annotated[str, typer.Option("--out", help="output folder or URL (s3://bucket/prefix, any fsspec URL)")],
    root: Root = ROOT,
    storage: Storage = None,
    version: Version = None,
    reasoning: Annotated[Literal["keep", "drop"], typer.Option("--reasoning", help="keep or drop traces")] = "keep",
    file_format: Annotated[
        Literal["jsonl", "parquet"], typer.Option("--file-format", help="trl and dpo: the file written")
    ] = "jsonl",
    licence: Annotated[str, typer.Option("--license", help="hf: the card's licence id (Hub ids)")] = "unknown",
    answer_format: Annotated[
        Literal["system", "user", "none"],
        typer.Option("--answer-format", help="verl: say how to end the answer in a system turn, the user turn, or not"),
    ] = "system",
    as_json: Json = False,
) -> None:
    """Write a version in the layout a trainer loads."""
    import tempfile

    from synthfoundry.exporters import EXPORTERS, ExportOptions, deliver, is_url

    if export_format not in EXPORTERS:
        raise typer.BadParameter(f"{export_format!r} is not one of {', '.join(EXPORTERS)}", param_hint="--format")
    if not is_url(out) and Path(out).exists() and not Path(out).is_dir():
        raise UserError(f"--out {out}: that is a file, and an export is a folder of files: give a new folder or an "
                        "existing one")
    store = _store(root, dataset, storage)
    chosen = store.version(version)
    rows = store.read(chosen.number)
    with tempfile.TemporaryDirectory() as scratch:  # exporters write local files; a URL gets them copied after
        folder = Path(scratch) if is_url(out) else Path(out)
        card = _hf_card(store, chosen, folder) if export_format == "hf" else None
        options = ExportOptions(
            reasoning=reasoning, file_format=file_format, license=licence, card=card, answer_format=answer_format
        )
        written = [str(p) for p in EXPORTERS[export_format](rows, chosen.manifest(), folder, options)]
        if is_url(out):
            written = deliver(folder, out, store.files.storage)
    _print({"version": chosen.tag, "rows": rows.height, "files": written}, as_json,
           f"{dataset} {chosen.tag}: {rows.height} rows -> " + ", ".join(written))


def _hf_card(store, version, out: Path) -> str:
    """The version's card for the export's README.md, its plots written under out/plots."""
    from synthfoundry import card, report

    figures = report.evaluate_version(store, version)
    images = report.plots(figures)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        (out / "plots" / f"{name}.png").write_bytes(image)
    return card.version_card(figures, {name: f"plots/{name}.png" for name in images}).markdown()


@command
def check(dataset: Dataset, root: Root = ROOT, storage: Storage = None, as_json: Json = False) -> None:
    """Find what an interrupted publish left (exit 1 if any).

    Changes nothing; `repair` fixes it.
    """
    problems = _store(root, dataset, storage, committed=False).check()
    _print(problems, as_json, "\n".join(problems) or f"{dataset}: nothing to repair")
    if problems:
        raise typer.Exit(1)


@command
def repair(dataset: Dataset, root: Root = ROOT, storage: Storage = None, as_json: Json = False) -> None:
    """Roll back whatever an interrupted publish left behind."""
    fixed = _store(root, dataset, storage, committed=False).repair()
    _print(fixed, as_json, "\n".join(f"fixed: {item}" for item in fixed) or f"{dataset}: nothing to repair")

