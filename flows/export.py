"""Export a published version in a trainer's layout; the shipped automation runs it on every published version."""

from __future__ import annotations

import tempfile
from pathlib import Path

from prefect import flow, get_run_logger

from synthfoundry.dataset import DatasetStore
from synthfoundry.dataset.storage import StorageOptions
from synthfoundry.exporters import EXPORTERS, ExportOptions, deliver


@flow(name="export-dataset", flow_run_name="export-{dataset}-v{version}-{export_format}")
def export_dataset(
    dataset: str, version: int, root: str = "synthfoundry-data", export_format: str = "trl",
    storage_options: StorageOptions | None = None,
) -> list[str]:
    """Write version `version` of `dataset` as `export_format` (hf, trl, dpo, verl, jsonl) under
    `<root>/exports/<dataset>/vN/<format>/`; returns the files written. Exporters write local files: they are
    written to a scratch folder and copied through the store's filesystem, so an object-store root works too
    (`storage_options` as in the run config; the automation's runs leave them to the worker's AWS_* variables)."""
    store = DatasetStore(root, dataset, storage=storage_options)
    chosen = store.version(int(version))
    destination = f"{store.exports}/v{chosen.number}/{export_format}"
    with tempfile.TemporaryDirectory() as scratch:
        EXPORTERS[export_format](store.read(chosen.number), chosen.manifest(), Path(scratch), ExportOptions())
        files = deliver(Path(scratch), destination, storage_options)
    get_run_logger().info("exported %s %s as %s: %s", dataset, chosen.tag, export_format, ", ".join(files))
    return files
