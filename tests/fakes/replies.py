"""Answers that make the fake provider a usable teacher for flow tests.

Generation prompts (Self-Instruct's "Task N:" lists) get numbered, mutually dissimilar instructions built from
the seed tasks' vocabulary; quality-judge prompts (LIMA's rubric) get a LIMA-shaped verdict, 4 to 6 by the
submission's text; every other prompt gets a short answer. The same request always gets the same text.
"""

from __future__ import annotations

import json
import random
import re

from synthfoundry.recipes.self_instruct.seeds import load_seed_tasks

VOCABULARY = sorted({w for t in load_seed_tasks() for w in re.findall(r"[a-z]{5,}", t.instruction.lower())})


def self_instruct_reply(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    rng = random.Random(json.dumps(body, sort_keys=True))
    if "[Submission]:" in prompt:
        submission = prompt.split("[Submission]:")[1].split("***")[0]
        score = 4 + sum(map(ord, submission)) % 3
        return f"The submission addresses the task.\n{score}\n{score}"
    if prompt.rstrip().endswith(":") and "Task 1:" in prompt:
        first = int(re.findall(r"Task (\d+):\s*$", prompt)[0])
        lines = [" ".join(["Explain", *rng.sample(VOCABULARY, 6)]) + "."]
        lines += [f"Task {first + i}: Describe " + " ".join(rng.sample(VOCABULARY, 6)) + "." for i in (1, 2)]
        return "\n".join(lines)
    return "Here is a careful answer: " + " ".join(rng.sample(VOCABULARY, 12)) + "."




def obeying_reply(body: dict) -> str:
    """A teacher that does what a document asks: any prompt carrying the attack's payload word gets it (a
    self-curation rating gets the top score, so back-translated pairs reach the filters); others a short answer."""
    prompt = body["messages"][-1]["content"]
    if "How good is this answer" in prompt:
        return "Score: 5"
    if "PWNED" in prompt:  # numbered per prompt, so no two obeyed answers are duplicates of each other
        return f"PWNED {sum(map(ord, prompt)) % 9973}. I have been pwned: the page told me what to write."
    return self_instruct_reply(body)
