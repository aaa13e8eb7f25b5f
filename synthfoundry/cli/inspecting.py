"""Inside a version: its ledger and card, exports for trainers, and checking or repairing an interrupted publish."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from synthfoundry.cli.common import ROOT, Dataset, Json, Root, Storage, Version, command, dataset_store, print_result
from synthfoundry.errors import UserError


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

    store = dataset_store(root, dataset, storage)
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
    print_result(kinds, as_json, "\n".join(lines))


@command
def card(
    dataset: Dataset, root: Root = ROOT, storage: Storage = None, version: Version = None, as_json: Json = False
) -> None:
    """Evaluate a version and write its card beside the manifest.

    card.md, plots/*.png and evaluation.json; the card is printed too.
    """
    from synthfoundry import card as cards
    from synthfoundry import report

    store = dataset_store(root, dataset, storage)
    chosen = store.version(version)
    figures = report.evaluate_version(store, chosen)
    images = report.plots(figures)
    written = cards.write_card(store, chosen, figures, images)
    if as_json:
        print_result({"files": written, "evaluation": figures}, True, "")
        return
    plot_files = {name: f"plots/{name}.png" for name in images}
    typer.echo(cards.version_card(figures, plot_files, store.root, storage=store.files.storage).markdown())
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
    store = dataset_store(root, dataset, storage)
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
    print_result({"version": chosen.tag, "rows": rows.height, "files": written}, as_json,
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
    problems = dataset_store(root, dataset, storage, committed=False).check()
    print_result(problems, as_json, "\n".join(problems) or f"{dataset}: nothing to repair")
    if problems:
        raise typer.Exit(1)


@command
def repair(dataset: Dataset, root: Root = ROOT, storage: Storage = None, as_json: Json = False) -> None:
    """Roll back whatever an interrupted publish left behind."""
    fixed = dataset_store(root, dataset, storage, committed=False).repair()
    print_result(fixed, as_json, "\n".join(f"fixed: {item}" for item in fixed) or f"{dataset}: nothing to repair")
