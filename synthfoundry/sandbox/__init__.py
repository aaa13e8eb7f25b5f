"""Run untrusted (model-written) programs: isolated, limited, and many at a time without blocking the event loop.

    from synthfoundry.sandbox import Sandbox, SandboxConfig
    result = Sandbox(SandboxConfig(timeout_s=5)).run("print(input())", stdin="hi\n")
    result.status, result.stdout          # "passed", "hi\n"
"""

from synthfoundry.sandbox.core import (
    LANGUAGES,
    ExecResult,
    Sandbox,
    SandboxConfig,
    SandboxUnavailable,
    shared_sandbox,
)

__all__ = ["LANGUAGES", "ExecResult", "Sandbox", "SandboxConfig", "SandboxUnavailable", "shared_sandbox"]
