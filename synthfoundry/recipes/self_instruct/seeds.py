"""The human seed tasks that Self-Instruct (and Evol-Instruct) start from: the paper's 175, or a user's JSONL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from synthfoundry.inputs import Place, SeedError, read_text


@dataclass(frozen=True)
class Instance:
    input: str
    output: str


@dataclass(frozen=True)
class SeedTask:
    id: str
    instruction: str
    is_classification: bool | None = None  # None: unlabelled (a user seed file may omit it)
    instances: tuple[Instance, ...] = ()


def default_seed_path() -> Path:
    return Path(str(resources.files("synthfoundry") / "seeds" / "self_instruct" / "seed_tasks.jsonl"))


def load_seed_tasks(path: Place | Path | None = None) -> list[SeedTask]:
    path = path or default_seed_path()
    tasks = []
    lines = read_text(path, "seed tasks", SeedError).splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            instruction = item["instruction"].strip()
            task_id = str(item.get("id", f"line-{number}"))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise SeedError(f"{path}:{number}: expected a JSON object with an 'instruction' string ({error})") from None
        if not instruction:
            raise SeedError(f"{path}:{number}: empty instruction")
        try:
            instances = tuple(Instance(str(i["input"]), str(i["output"])) for i in item.get("instances") or ())
        except (KeyError, TypeError) as error:
            raise SeedError(f"{path}:{number}: 'instances' must be a list of {{input, output}} ({error})") from None
        label = item.get("is_classification")
        tasks.append(SeedTask(task_id, instruction, label if isinstance(label, bool) else None, instances))
    if not tasks:
        raise SeedError(f"{path}: no seed tasks")
    return tasks
