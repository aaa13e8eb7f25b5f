"""Exporters: a published version written in the layout a trainer loads.

Each format is a module with `NAME` and `export(rows, manifest, out, options) -> written files`; adding a format is
its module plus one line here.
"""

from synthfoundry.exporters import dpo, hf, jsonl, openai, trl, verl
from synthfoundry.exporters.base import ExportError, ExportOptions, deliver, is_url

EXPORTERS = {module.NAME: module.export for module in (hf, trl, dpo, verl, jsonl, openai)}

__all__ = ["EXPORTERS", "ExportError", "ExportOptions", "deliver", "is_url"]
