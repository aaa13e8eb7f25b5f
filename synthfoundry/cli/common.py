"""The app, the options every command shares, and how a user error becomes one line and exit code 1."""

from __future__ import annotations

import functools
import json
from typing import Annotated

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


def dataset_store(root: str, dataset: str, storage: list[str] | None, committed: bool = True):
    """The dataset's store (reached with the `--storage-option`s), refused with one error naming place and dataset
    when nothing of it is there (before anything is created); `committed`: it must also have a published version
    (`check` and `repair` need not)."""
    from synthfoundry.dataset import DatasetStore
    from synthfoundry.dataset.storage import StorageOptions

    store = DatasetStore(root, dataset, storage=StorageOptions.parse(storage or []))
    try:
        found = store.exists()
        published = found and committed and store.versions()  # versions read only where there is a dataset
    except Exception as error:  # noqa: BLE001 - no credentials, no bucket, no endpoint: one line, not a traceback
        raise store.files.unreachable(error, "read") from None
    if not found:
        raise UserError(f"no dataset {dataset!r} under {root}: nothing was ever published there (is --root right?)")
    if committed and not published:
        raise UserError(f"dataset {dataset!r} has no published version under {root} (is --root right?)")
    return store


def print_result(payload, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str) if as_json else text)


def as_table(rows: list[dict]) -> str:
    """Rows as aligned columns for the terminal."""
    if not rows:
        return "(none)"
    header = list(rows[0])
    cells = [[str("" if row.get(k) is None else row.get(k)) for k in header] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)
