"""Tools for filter tests: the real packaged embedder, a real store under a temporary root, and an `ask` that
sends to a given teacher (the loopback fake provider or the local model) through the real managed layer."""

from __future__ import annotations

import tempfile
from pathlib import Path

from synthfoundry.dataset import DatasetStore
from synthfoundry.embeddings import embed
from synthfoundry.filters.base import Tools
from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.base import complete_all
from synthfoundry.teachers.config import TeacherConfig


def ask_through(config: TeacherConfig):
    teacher = make_managed_teacher(config)
    return lambda requests: complete_all(teacher, requests, config.max_in_flight).results


def tools(store: DatasetStore | None = None, teacher: TeacherConfig | None = None, **overrides) -> Tools:
    default = teacher or TeacherConfig(provider="local")
    settings = {
        "ask": lambda config: ask_through(config or default),
        "embed": embed,
        "published": (store or DatasetStore(Path(tempfile.mkdtemp()) / "published", "test")).published(),
        **overrides,
    }
    return Tools(**settings)
