"""Reading the files users hand us (run configs, seeds, topics, taxonomies, contracts): UTF-8 text and YAML whose
every failure names the file, and nothing ambiguous taken as a guess (a key written twice is an error, not
"the last one wins").

A place is a local path or any fsspec URL (`s3://bucket/seeds.jsonl`, `gs://...`, `https://...`), kept as the user
wrote it and read through fsspec: pathlib would turn `s3://b/k` into a local `s3:/b/k`. Object stores take their
endpoint and keys from their standard variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BeforeValidator

from synthfoundry.errors import UserError

# A local path or an fsspec URL, kept as a string (a Path given by a caller becomes its string; a URL never a Path)
Place = Annotated[str, BeforeValidator(lambda value: os.fspath(value) if isinstance(value, os.PathLike) else value)]


class InputError(UserError, ValueError):
    """A user-supplied file that cannot be used; the message names the file, the place and the fix."""


class SeedError(InputError):
    """Seeds that cannot be used (seed tasks or questions, topics, an outline, a taxonomy, documents): the one error
    of every seed loader; the message names the file and line."""


def read_bytes(place: str | Path, what: str, error: type[ValueError] = InputError) -> bytes:
    """The file's bytes; a missing or unreadable file (or an unreachable store) raises `error` naming it."""
    import fsspec

    try:
        with fsspec.open(str(place), "rb") as handle:
            return handle.read()
    except OSError as problem:
        raise error(f"{place}: cannot read {what} ({problem.strerror or type(problem).__name__})") from None
    except Exception as problem:  # noqa: BLE001 - a back end's own errors: no credentials, no endpoint, no package
        raise error(f"{place}: cannot read {what} ({type(problem).__name__}: {problem})") from None


def read_text(place: str | Path, what: str, error: type[ValueError] = InputError) -> str:
    """The file as UTF-8 text; a missing, unreadable or non-UTF-8 file raises `error` naming it."""
    data = read_bytes(place, what, error)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise error(
            f"{place}: {what} is not UTF-8 text{hint}: byte 0x{data[problem.start]:02x} at offset {problem.start}; "
            "save the file as UTF-8"
        ) from None


def file_name(place: str | Path) -> str:
    """The last part of a path or URL (`s3://b/seeds/tasks.jsonl` -> `tasks.jsonl`)."""
    return str(place).rstrip("/").rsplit("/", 1)[-1]


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a mapping listing one key twice is refused."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1}): keep one", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_yaml(text: str, source: str, error: type[ValueError] = InputError) -> object:
    """YAML with unique keys; a syntax error or repeated key raises `error` with the file, line and column."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{source}: not valid YAML{where}: {getattr(problem, 'problem', problem)}") from None


def load_yaml(path: str | Path, what: str, error: type[ValueError] = InputError) -> object:
    return parse_yaml(read_text(path, what, error), str(path), error)
