"""The paper's steps 2-3 on the grown pool: each instruction labelled classification or not (few-shot from the
seeds' `is_classification`), then one instance written output-first for classification tasks (a class label, then an
input for it, so labels are not all the same) and input-first otherwise."""

from __future__ import annotations

import json
import random
import re

import polars as pl

from synthfoundry.recipes.base import Ask, Log
from synthfoundry.recipes.common import user_request
from synthfoundry.recipes.self_instruct.prompts import CLASSIFY, INPUT_FIRST, OUTPUT_FIRST, TEMPLATE
from synthfoundry.recipes.self_instruct.seeds import Instance, SeedTask
from synthfoundry.recipes.templates import combined_hash
from synthfoundry.stages import StageResult, split
from synthfoundry.teachers.base import ChatRequest, Completion, TeacherFailure

# Few-shot instances longer than this crowd a small model's context; the seeds have plenty of short ones.
EXAMPLE_CHARS = 400
_LABEL_WORDS = 8  # a longer "class label" is a sentence, not a label
LABEL_TOKENS = 8  # enough for "Yes" or "No" and a little preamble
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_FIELD = re.compile(r"^\s*[*#]*\s*(task|input|output|class label)\s*[*]*\s*:\s*[*]*\s*", re.IGNORECASE)


def render_classification_prompt(examples: list[SeedTask], instruction: str) -> str:
    shown = "".join(
        f"Task: {t.instruction}\nIs it classification? {'Yes' if t.is_classification else 'No'}\n\n" for t in examples
    )
    return CLASSIFY.render(examples=shown, instruction=instruction)


def parse_is_classification(text: str) -> bool | None:
    """The reply's first Yes or No; None when it has neither (the paper then treats the task as not classification)."""
    match = _YES_NO.search(text)
    return None if match is None else match.group(1).lower() == "yes"


def render_instance_prompt(examples: list[SeedTask], instruction: str, output_first: bool) -> str:
    """Seed instances in the order the model should write: label then input, or input then output."""
    blocks = []
    for task in examples:
        instance = task.instances[0]
        lines = [f"Task: {task.instruction}"]
        if output_first:
            lines.append(f"Class label: {instance.output}")
        if instance.input:
            lines.append(f"Input: {instance.input}")
        if not output_first:
            lines.append(f"Output: {instance.output}")
        blocks.append("\n".join(lines) + "\n\n")
    return (OUTPUT_FIRST if output_first else INPUT_FIRST).render(examples="".join(blocks), instruction=instruction)


def _fields(text: str) -> dict[str, str]:
    """The first instance's labelled fields ("" holds text before any label); a repeated field or a new task ends it."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.strip().splitlines():
        match = _FIELD.match(line)
        if match:
            sections.append((match.group(1).lower(), [line[match.end():]]))
        else:
            sections[-1][1].append(line)
    fields: dict[str, str] = {}
    for name, lines in sections:
        if name in fields or (name == "task" and len(fields) > 1):
            break
        if name != "task":
            fields[name] = "\n".join(lines).strip()
    return fields


def parse_instance(text: str, output_first: bool) -> Instance | None:
    """One instance from the reply, tolerant of missing labels; None when nothing usable is there.

    Input-first: "Input: ... Output: ..."; a reply with no labels is the output of a task that needs no input.
    Output-first: "Class label: X" (or a short first line) is the label; the input follows it, labelled or not.
    """
    fields = _fields(text)
    if not output_first:
        if "input" in fields or "output" in fields:
            instance = Instance(fields.get("input", ""), fields.get("output", ""))
            return instance if instance.input or instance.output else None
        return Instance("", fields[""]) if fields[""] else None
    label_section = fields.get("class label") or fields[""]
    label, _, rest = label_section.partition("\n")
    label = label.strip().strip("*").strip()
    if not label or len(label.split()) > _LABEL_WORDS:
        return None
    return Instance(fields.get("input", rest.strip()), label)


def _classification_examples(seeds: list[SeedTask], count: int, rng: random.Random) -> list[SeedTask]:
    """Half classification, half not, so the examples do not bias the answer."""
    yes = [t for t in seeds if t.is_classification is True]
    no = [t for t in seeds if t.is_classification is False]
    shown = rng.sample(yes, min(count // 2, len(yes))) + rng.sample(no, min(count - count // 2, len(no)))
    rng.shuffle(shown)
    return shown


def _instance_examples(seeds: list[SeedTask], output_first: bool, count: int, rng: random.Random) -> list[SeedTask]:
    """Short seed instances of the same kind of task (classification for output-first)."""
    pool = [
        t for t in seeds
        if t.instances and (t.is_classification is True) == output_first
        and len(t.instances[0].input) + len(t.instances[0].output) <= EXAMPLE_CHARS
    ]
    return rng.sample(pool, min(count, len(pool)))


def add_instances(
    frame: pl.DataFrame,
    seeds: list[SeedTask],
    ask: Ask,
    rng: random.Random,
    examples: int = 4,
    temperature: float = 0.8,
    max_tokens: int = 128,
    log: Log = lambda _message: None,
) -> StageResult:
    """The paper's steps 2-3 on the grown pool: label each instruction, then generate its instance accordingly.

    Rows keep their ids (the instruction's); one instance per instruction keeps instructions unique in the dataset.
    """
    def label_request(text: str) -> ChatRequest:
        shown = _classification_examples(seeds, examples, rng)
        return user_request(render_classification_prompt(shown, text), 0.0, LABEL_TOKENS, rng)

    def instance_request(text: str, output_first: bool) -> ChatRequest:
        shown = _instance_examples(seeds, output_first, examples, rng)
        return user_request(render_instance_prompt(shown, text, output_first), temperature, max_tokens, rng)

    instructions = frame["instruction"].to_list()
    label_outputs = ask([label_request(text) for text in instructions])
    labels = [parse_is_classification(o.text) if isinstance(o, Completion) else None for o in label_outputs]
    answerable = [i for i, o in enumerate(label_outputs) if isinstance(o, Completion)]
    instance_outputs: list[Completion | TeacherFailure | None] = [None] * len(instructions)
    replies = ask([instance_request(instructions[i], labels[i] is True) for i in answerable])
    for i, output in zip(answerable, replies, strict=True):
        instance_outputs[i] = output

    inputs, metadata, hashes, reasons = [], [], [], []
    for label_output, label, output in zip(label_outputs, labels, instance_outputs):
        output_first = label is True
        instance = parse_instance(output.text, output_first) if isinstance(output, Completion) else None
        inputs.append(instance.input if instance else "")
        metadata.append(json.dumps({
            "is_classification": label,
            "instance_order": "output-first" if output_first else "input-first",
            "instance_output": instance.output if instance else None,
        }))
        hashes.append(combined_hash(TEMPLATE, CLASSIFY, OUTPUT_FIRST if output_first else INPUT_FIRST))
        if isinstance(label_output, TeacherFailure):
            reasons.append(f"teacher failed identifying classification: {label_output.reason}")
        elif isinstance(output, TeacherFailure):
            reasons.append(f"teacher failed generating an instance: {output.reason}")
        elif instance is None:
            reasons.append(f"no {'class label' if output_first else 'instance'} could be parsed from the output")
        else:
            reasons.append(None)
    rows = frame.with_columns(
        pl.Series("input", inputs, dtype=pl.String),
        pl.Series("metadata", metadata, dtype=pl.String),
        pl.Series("template_hash", hashes, dtype=pl.String),
    )
    result = split(rows, "synthesis", pl.Series(reasons, dtype=pl.String))
    log(f"self-instruct instances: {sum(label is True for label in labels)} of {len(labels)} classification tasks "
        f"({sum(label is None for label in labels)} unclear replies taken as not), {result.counts['kept']} kept, "
        f"{result.counts['dropped']} dropped")
    return result
