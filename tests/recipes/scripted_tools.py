"""A toolset for the scripted teacher's runs: every tool raises on the arguments its `failing` scenario sends."""

from typing import Literal


def _check(*values: object) -> None:
    if "FAIL" in values or 13 in values:
        raise ValueError("refused: FAIL / 13")


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first.
        b: the second.
    """
    _check(a, b)
    return a + b


def greet(name: str, language: Literal["en", "fr"] = "en") -> str:
    """Greet someone by name.

    Args:
        name: who to greet.
        language: en or fr.
    """
    _check(name)
    return ("Hello, " if language == "en" else "Bonjour, ") + name


def lookup(key: str) -> str:
    """The value stored under a key of a small table."""
    _check(key)
    return {"tea": "a drink"}.get(key, "unknown")
