"""Evaluation throughput on this machine: LoRA SFT step time and training tokens/s, against a bare forward +
backward of the same batch through the whole student (the trainer's and the adapter's overhead), and held-out items/s
(reference NLL alone, and NLL + a greedy answer checked by the verifier).

    .venv/bin/python -m bench.evaluation                      # 6 steps at batch 4, max_length 64; 16 items
    .venv/bin/python -m bench.evaluation --steps 4 --items 8  # a quick look

The student is the shipped SmolLM2-135M GGUF, dequantised once into the project's cache; rows are reasoning-gym
arithmetic tasks answered correctly (an SFT arm). Training and the bare baseline run in the same process, so load
from other work on the machine hits both alike.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import polars as pl

from synthfoundry.evaluation.arms import Arm
from synthfoundry.evaluation.config import TrainConfig
from synthfoundry.evaluation.scoring import _reference_nll, item_conversations, score_items
from synthfoundry.evaluation.sets import build_set
from synthfoundry.evaluation.student import cache_root, prepare_student
from synthfoundry.evaluation.training import load_trained, train_arm

GENERATOR = "basic_arithmetic"


def arithmetic_arm(rows: int) -> Arm:
    import reasoning_gym

    items = list(reasoning_gym.create_dataset(GENERATOR, size=rows, seed=7))
    frame = pl.DataFrame({
        "id": [f"bench-{i}" for i in range(rows)],
        "instruction": [item["question"] for item in items], "input": [""] * rows,
        "response": [str(item["answer"]) for item in items], "answer": [str(item["answer"]) for item in items],
        "verifier": [f"reasoning_gym:{GENERATOR}"] * rows,
        "metadata": [json.dumps(item["metadata"], default=str) for item in items],
        "messages": pl.Series([None] * rows, dtype=pl.List(pl.Struct({"role": pl.String, "content": pl.String}))),
        "seed_ids": [[f"{GENERATOR}:7:{i}"] for i in range(rows)],
    })
    return Arm("bench", "bench", 1, "sft", frame, {})


def bare_step_s(student, arm: Arm, batch: int, max_length: int, repeats: int = 3) -> float:
    """Forward + backward + SGD step of the whole model on `batch` rows, no trainer, no adapter (best of repeats)."""
    import torch

    model, tokenizer = student.load()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    texts = [tokenizer.apply_chat_template([*prompt, answer], tokenize=False)
             for prompt, answer in item_conversations(arm.rows.head(batch).rename({"id": "item_id"})
                                                      .with_columns(pl.col("response").alias("reference")))]
    encoded = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        loss = model(**encoded, labels=encoded["input_ids"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--items", type=int, default=16)
    args = parser.parse_args()

    started = time.perf_counter()
    student = prepare_student(None, "cpu", cache_root())
    print(f"student ready in {time.perf_counter() - started:.1f} s ({student.folder})")
    arm = arithmetic_arm(args.steps * args.batch)
    config = TrainConfig(max_steps=args.steps, batch_size=args.batch, max_length=args.max_length, lora_rank=8,
                         checkpoint_every=10_000)
    bare = bare_step_s(student, arm, args.batch, args.max_length)
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        trained = train_arm(arm, config, student, Path(cache))
        train_s = time.perf_counter() - started
        step = train_s / trained.budget["steps"]
        tokens = trained.budget["tokens"]
        print(f"LoRA SFT: {trained.budget['steps']} steps in {train_s:.1f} s (with model load): {step:.2f} s/step, "
              f"{tokens / train_s:.0f} tokens/s ({tokens} tokens); bare full forward+backward {bare:.2f} s/step "
              f"-> trainer/bare {step / bare:.2f}x")
        items, _ = build_set("procedural", [arm], args.items, 0)
        model, tokenizer = load_trained(student, trained.weights)
        import torch

        started = time.perf_counter()
        with torch.no_grad():
            for start in range(0, items.height, 8):
                _reference_nll(model, tokenizer, item_conversations(items.slice(start, 8)))
        nll_rate = items.height / (time.perf_counter() - started)
        started = time.perf_counter()
        scores = score_items(model, tokenizer, items, max_new_tokens=32, batch_size=8)
        full_rate = items.height / (time.perf_counter() - started)
        print(f"eval: {items.height} items; reference NLL {nll_rate:.2f} items/s; NLL + greedy answer (32 tokens) + "
              f"verifier {full_rate:.2f} items/s (NLL alone {nll_rate / full_rate:.1f}x faster); "
              f"accuracy {scores['score'].mean():.3f}, held-out loss {scores['loss'].mean():.3f}")


if __name__ == "__main__":
    main()
