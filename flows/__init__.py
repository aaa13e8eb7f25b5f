"""Prefect flows: wiring only, reading top to bottom like the pipeline diagram.

Importing them sets what the process's torch must start with (before anything loads it; a user's own setting wins):
OpenMP threads that wait passively. By default they spin between operations, and on cores shared with anything else
(the teacher's event loop while batches stream, other processes) a spinning thread holds the core its partner waits
for: 4-5x the wall time and 3x the CPU for the same embedding on 2 busy cores (bench/pipeline.py). Dask workers and
the evaluation's trainer inherit it."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
