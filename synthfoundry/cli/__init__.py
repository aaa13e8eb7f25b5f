"""`synthfoundry`: run, check and inspect published datasets, and export them for trainers.

Shape: `synthfoundry COMMAND DATASET --root ROOT ...`; the latest version unless `--version N`. Exit codes: 0 ok,
1 a user error (one line on stderr, no traceback), 2 a usage error. `--json` prints one JSON document for scripts.
Heavy libraries are imported inside the commands, so `--help` stays fast.
"""

# Each module registers its commands on the app; `--help` lists them in this order.
# isort: off
from synthfoundry.cli import runs, versions, inspecting  # noqa: F401
# isort: on
from synthfoundry.cli.common import app

__all__ = ["app"]
