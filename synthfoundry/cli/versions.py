"""The versions of a dataset: list, show, diff, tag and roll back."""

from __future__ import annotations

from typing import Annotated

import typer

from synthfoundry.cli.common import (
    ROOT,
    Dataset,
    Json,
    Root,
    Storage,
    Version,
    as_table,
    command,
    dataset_store,
    print_result,
)


@command
def versions(dataset: Dataset, root: Root = ROOT, storage: Storage = None, as_json: Json = False) -> None:
    """List the published versions, oldest first, with their tags."""
    store = dataset_store(root, dataset, storage)
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
    print_result(rows, as_json, as_table(rows))


@command
def show(
    dataset: Dataset, root: Root = ROOT, storage: Storage = None, version: Version = None, as_json: Json = False
) -> None:
    """Show a version: rows, stage counts, contract, cost, data files."""
    store = dataset_store(root, dataset, storage)
    chosen = store.version(version)
    manifest = chosen.manifest()
    files = store.data_files(chosen.number)
    if as_json:
        print_result({**manifest, "data_files": files}, True, "")
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
        as_table(stages),
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
    store = dataset_store(root, dataset, storage)
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
        as_table(stages),
    ]
    print_result(changes, as_json, "\n".join(lines))


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
    store = dataset_store(root, dataset, storage)
    if delete:
        store.untag(name)
        print_result({"deleted": name}, as_json, f"deleted tag {name}")
        return
    chosen = store.version(version)
    store.tag(name, chosen.number)
    print_result({"tag": name, "version": chosen.tag}, as_json, f"{name} -> {chosen.tag}")


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

    store = dataset_store(root, dataset, storage)
    target = store.version(to)
    published = store.rollback(target.number, run_id=f"rollback-{uuid.uuid4().hex[:12]}")
    print_result({"version": published.tag, "rollback_of": target.tag}, as_json,
           f"published {published.tag} = {target.tag}")
