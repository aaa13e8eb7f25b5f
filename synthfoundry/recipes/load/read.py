"""Reading a user's dataset: JSONL or Parquet files (one, a folder of them, a glob, any fsspec URL) or a folder
written by `datasets.save_to_disk` (Arrow files, read with pyarrow: no `datasets` needed at run time).

Every failure names the place and the fix, and comes before anything is sent: the recipe's estimate reads here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from synthfoundry.errors import UserError

_TABLE_SUFFIXES = (".jsonl", ".parquet")


class LoadError(UserError, ValueError):
    """A dataset that cannot be loaded: missing, unreadable, empty, or without a column the config names."""


@dataclass(frozen=True)
class Table:
    """One file's rows (only the columns asked for), and where they came from."""

    source: str
    rows: list[dict]


def read_tables(path: str, columns: list[str] | None, split: str | None) -> list[Table]:
    """Every file under `path`, each with its rows; `columns` None: every column. A column named in `columns`
    that a file lacks is an error naming both, so a typo in the mapping never loads a dataset of nulls."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(path)
        if any(ch in root for ch in "*?["):
            files = sorted(p for p in fs.glob(root) if p.endswith(_TABLE_SUFFIXES))
        elif fs.isdir(root):
            saved = _saved_dataset(fs, root, split)
            files = saved if saved is not None else sorted(p for p in fs.find(root) if p.endswith(_TABLE_SUFFIXES))
        elif fs.exists(root):
            files = [root]
        else:
            raise LoadError(f"{path}: no such file or folder")
    except LoadError:
        raise
    except Exception as error:  # noqa: BLE001 - any back-end failure (missing package, credentials) is the user's to fix
        raise LoadError(f"{path}: cannot list it ({type(error).__name__}: {error})") from None
    if not files:
        raise LoadError(f"{path}: no .jsonl or .parquet file there (nor a datasets.save_to_disk folder): "
                        "check the path or glob")
    tables = [_read(fs, file, columns) for file in files]
    if not any(table.rows for table in tables):
        raise LoadError(f"{path}: no rows to load (the files are empty)")
    return tables


def _saved_dataset(fs, root: str, split: str | None) -> list[str] | None:
    """The Arrow files of a `save_to_disk` folder (a Dataset, or one split of a DatasetDict); None: not one."""
    if fs.exists(f"{root}/dataset_dict.json"):
        splits = json.loads(fs.cat_file(f"{root}/dataset_dict.json"))["splits"]
        chosen = split or ("train" if "train" in splits else None)
        if chosen not in splits:
            raise LoadError(f"{root} holds the splits {splits}: set recipe.split to one of them")
        root = f"{root}/{chosen}"
    elif split is not None:
        raise LoadError(f"{root} is not a saved DatasetDict, so it has no splits: leave recipe.split out")
    if not fs.exists(f"{root}/state.json"):
        return None
    state = json.loads(fs.cat_file(f"{root}/state.json"))
    return [f"{root}/{item['filename']}" for item in state["_data_files"]]


def _read(fs, file: str, columns: list[str] | None) -> Table:
    try:
        if file.endswith(".jsonl"):
            return Table(file, _jsonl(fs, file, columns))
        import pyarrow as pa
        import pyarrow.parquet as pq

        with fs.open(file, "rb") as handle:
            table = pq.read_table(handle) if file.endswith(".parquet") else pa.ipc.open_stream(handle).read_all()
    except LoadError:
        raise
    except Exception as error:  # noqa: BLE001 - a corrupt or unreadable file: named, with the reason
        raise LoadError(f"{file}: cannot read it ({type(error).__name__}: {error})") from None
    _require(columns, table.column_names, file)
    return Table(file, table.select(columns).to_pylist() if columns is not None else table.to_pylist())


def _jsonl(fs, file: str, columns: list[str] | None) -> list[dict]:
    rows, seen = [], set()
    with fs.open(file, "rb") as handle:
        text = handle.read().decode("utf-8-sig")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise LoadError(f"{file}:{number}: not valid JSON ({error.msg}): one object per line") from None
        if not isinstance(item, dict):
            raise LoadError(f"{file}:{number}: a JSON object per line, got {type(item).__name__}")
        seen.update(item)
        rows.append(item if columns is None else {name: item.get(name) for name in columns})
    if rows:
        _require(columns, seen, file)
    return rows


def _require(columns: list[str] | None, present, file: str) -> None:
    missing = [name for name in columns or () if name not in present]
    if missing:
        shown = ", ".join(sorted(present)[:20])
        raise LoadError(
            f"{file} has no column {', '.join(map(repr, missing))} "
            f"(its columns: {shown}); name the right ones under recipe.columns"
        )
