"""Synthfoundry: seeds in, verified and versioned post-training datasets out.

Everything in this package is plain Python (no Prefect): the flows and tasks beside it add orchestration policy.
"""

__version__ = "0.1.0"
