"""Build the configured teacher, reading its key from a Prefect Secret block when the config names one."""

from __future__ import annotations

from synthfoundry.config import TeacherConfig
from synthfoundry.teachers import make_teacher
from synthfoundry.teachers.base import Teacher


def teacher_from_config(config: TeacherConfig) -> Teacher:
    api_key = None
    if config.api_key_secret:
        from prefect.blocks.system import Secret

        api_key = Secret.load(config.api_key_secret).get()
    return make_teacher(config, api_key=api_key)
