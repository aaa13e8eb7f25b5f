"""Prompt templates are versioned files shipped with their recipe; every row records the hash of the ones used."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from synthfoundry.records import text_hash


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    @property
    def hash(self) -> str:
        return text_hash(self.text)

    def render(self, **values: object) -> str:
        return self.text.format(**values)


def load_template(package: str, name: str) -> Template:
    """`package`'s templates/<name>.txt, e.g. load_template(__package__, "generate_instructions")."""
    return Template(name, (resources.files(package) / "templates" / f"{name}.txt").read_text())


def combined_hash(*templates: Template) -> str:
    """One hash for a row made with several templates."""
    return text_hash("\n".join(t.hash for t in templates))
