"""The quality judge's score parsing on recorded judge answers: `python -m bench.judge`.

bench/data/judge_outputs.jsonl holds real answers of the packaged SmolLM2-135M judging Self-Instruct seed tasks
(the quickstart's `brief` rubric, and LIMA's full rubric) plus hand-written answers in the shapes capable judges
write. Prints, per source, how many answers gave a score and the reasons the others did not, and the parse time
per answer. `--record N` re-records the local model's answers on the first N seed tasks (slow: the model runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "bench" / "data" / "judge_outputs.jsonl"
# Answers in the shapes real judges write (LIMA's protocol, labels, fractions, markdown, prose) and broken ones.
HAND_WRITTEN = [
    ("The response answers the question with detail and examples.\n5\n5", 5),
    ("Reasoning: relevant but thin.\n3\n3", 3),
    ("Score: 4", 4),
    ("Rating: 4/6\nRationale: clear, slightly repetitive.", 4),
    ("**5**", 5),
    ("I would rate this 2 out of 6: it misses the point.", 2),
    ("Overall score: 6. Excellent structure with headings.", 6),
    ("The answer is helpful. Final rating: [4]", 4),
    ("It is relevant, clear and complete.", None),
    ("Step 1: relevance. Step 2: clarity.\n4\n5", None),
    ("Score: 9", None),
    ("Score: 7/10", None),
]


def record(count: int, lima_count: int) -> None:
    from synthfoundry.filters.quality_judge import _values, load_rubric, rubric_path
    from synthfoundry.recipes.self_instruct.seeds import load_seed_tasks
    from synthfoundry.teachers import make_managed_teacher
    from synthfoundry.teachers.base import ChatRequest, complete_all
    from synthfoundry.teachers.config import TeacherConfig

    teacher = make_managed_teacher(TeacherConfig(provider="local", cache=False))
    rows = []
    for rubric_name, n, max_tokens in (("brief", count, 6), ("lima", lima_count, 96)):
        rubric = load_rubric(rubric_path(rubric_name))
        (template,) = rubric.aspects.values()
        tasks = load_seed_tasks()[:n]
        values = [_values({"instruction": t.instruction, "input": t.instances[0].input,
                           "response": t.instances[0].output}) for t in tasks]
        requests = [ChatRequest(({"role": "user", "content": template.format(**v)},), temperature=0.0,
                                max_tokens=max_tokens, seed=1) for v in values]
        for task, answer in zip(tasks, complete_all(teacher, requests, 2).results):
            rows.append({"source": f"smollm2-135m/{rubric_name}", "task": task.id, "text": answer.text,
                         "low": rubric.low, "high": rubric.high})
    rows += [{"source": "hand-written", "task": None, "text": text, "low": 1, "high": 6, "expected": score}
             for text, score in HAND_WRITTEN]
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"recorded {len(rows)} answers to {DATA}")


def main() -> None:
    from synthfoundry.filters.judge_scores import ScoreUnparseable, parse_score

    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    outcomes: dict[str, Counter] = {}
    wrong = 0
    start = time.perf_counter()
    for row in rows:
        try:
            score = parse_score(row["text"], row["low"], row["high"])
            outcome = "scored"
        except ScoreUnparseable as why:
            score, outcome = None, str(why).split(" (")[0]
        outcomes.setdefault(row["source"], Counter())[outcome] += 1
        wrong += "expected" in row and row["expected"] != score
    per_answer_us = (time.perf_counter() - start) / len(rows) * 1e6
    print(f"{'source':<22} {'answers':>7} {'scored':>7} {'rate':>6}  why the others gave no score")
    for source, counts in outcomes.items():
        total = sum(counts.values())
        others = ", ".join(f"{why}: {n}" for why, n in counts.most_common() if why != "scored")
        print(f"{source:<22} {total:>7} {counts['scored']:>7} {counts['scored'] / total:>6.0%}  {others}")
    print(f"hand-written answers read as expected (score or refusal): {len(HAND_WRITTEN) - wrong} of {len(HAND_WRITTEN)}")
    print(f"parse time: {per_answer_us:.1f} us per answer ({len(rows)} answers)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=int, metavar="N", help="re-record the local model's answers on N seed tasks")
    parser.add_argument("--lima", type=int, default=8, help="with --record: how many of them also get LIMA's rubric")
    arguments = parser.parse_args()
    if arguments.record:
        record(arguments.record, arguments.lima)
    main()
