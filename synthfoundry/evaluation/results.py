"""An evaluation's result as one JSON-able record: per arm and set the accuracy and held-out loss with bootstrap
intervals, the paired difference between every two arms, the budget every arm had, the per-item scores, and the
spread over repeated seeds. The same record is the table the CLI prints, the Prefect artifacts, the card's
"Extrinsic evaluation" section and what the promotion gate reads."""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime

import polars as pl

from synthfoundry.evaluation.arms import Arm
from synthfoundry.evaluation.config import EvaluationConfig
from synthfoundry.evaluation.stats import Estimate, bootstrap, paired, verdict

METRICS = {"accuracy": True, "loss": False}  # metric -> higher is better


def new_evaluation_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def summarise(config: EvaluationConfig, arms: list[Arm], sets: dict[str, dict], scores: dict[tuple, pl.DataFrame],
              budgets: dict[str, dict], student: dict, evaluation_id: str | None = None) -> dict:
    """The record. `scores[(arm name, set name, seed)]` are `score_items` frames on the same items in the same order;
    `sets[name]` = {"items": n, "overlap": {arm: contaminated candidates}}; `budgets[arm]` what each trained on."""
    seed, stat = config.train.seed, config.eval
    estimate = {"resamples": stat.resamples, "confidence": stat.confidence, "seed": stat.seed}

    def column(arm: str, name: str, metric: str, run_seed: int = seed) -> pl.Series:
        return scores[(arm, name, run_seed)]["score" if metric == "accuracy" else "loss"]

    rows, differences = [], []
    for name in sets:
        for arm in arms:
            rows.append({"arm": arm.name, "set": name, **{
                metric: bootstrap(column(arm.name, name, metric), **estimate).to_dict() for metric in METRICS}})
        for position, arm in enumerate(arms):
            for against in arms[:position]:
                entry = {"arm": arm.name, "against": against.name, "set": name}
                for metric, higher in METRICS.items():
                    difference = paired(column(against.name, name, metric), column(arm.name, name, metric), **estimate)
                    entry[metric] = {**difference.to_dict(), "verdict": verdict(difference, higher)}
                differences.append(entry)
    repeats = sorted({key[2] for key in scores} - {seed})
    spread = [
        {"arm": arm.name, "set": name, "seeds": [seed, *repeats], **{
            metric: _spread([column(arm.name, name, metric, s).mean() for s in (seed, *repeats)]) for metric in METRICS}}
        for name in sets for arm in arms if arm.version is not None
    ] if repeats else []
    return {
        "id": evaluation_id or new_evaluation_id(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": config.dataset,
        "student": student,
        "train": config.train.model_dump(),
        "eval": config.eval.model_dump(),
        "arms": [{"name": a.name, "label": a.label, "dataset": a.dataset, "version": a.version, "kind": a.kind,
                  "trainer": a.trainer, "budget": budgets.get(a.name)} for a in arms],
        "sets": sets,
        "scores": rows,
        "differences": differences,
        "seed_variance": spread,
        "items": {f"{arm}|{name}": frame.select("item_id", "loss", "score").to_dict(as_series=False)
                  for (arm, name, run_seed), frame in scores.items() if run_seed == seed},
    }


def _spread(values: list[float]) -> dict:
    return {"values": [round(float(v), 6) for v in values], "mean": round(statistics.fmean(values), 6),
            "stdev": round(statistics.stdev(values), 6) if len(values) > 1 else 0.0}


def _interval(value: dict) -> str:
    return f"{value['mean']:.3f} [{value['low']:.3f}, {value['high']:.3f}]"


def table(record: dict) -> list[dict]:
    """One row per arm and set: accuracy and held-out loss with their intervals (the CLI's and artifact's table)."""
    labels = {arm["name"]: arm["label"] for arm in record["arms"]}
    return [{"arm": row["arm"], "version": labels[row["arm"]], "set": row["set"], "items": row["accuracy"]["n"],
             "accuracy": _interval(row["accuracy"]), "held-out loss": _interval(row["loss"])}
            for row in record["scores"]]


def difference_table(record: dict) -> list[dict]:
    """One row per pair of arms and set: the paired difference (arm - against) and whether it is a clear one."""
    return [{"arm": row["arm"], "against": row["against"], "set": row["set"],
             "accuracy Δ": _interval(row["accuracy"]), "accuracy": row["accuracy"]["verdict"],
             "loss Δ": _interval(row["loss"]), "loss": row["loss"]["verdict"]}
            for row in record["differences"]]


def seed_table(record: dict) -> list[dict]:
    """One row per trained arm and set when `repeat_seeds` was asked: each metric's mean ± stdev over the seeds."""
    return [{"arm": row["arm"], "set": row["set"], "seeds": ", ".join(map(str, row["seeds"])),
             "accuracy": f"{row['accuracy']['mean']:.3f} ± {row['accuracy']['stdev']:.3f}",
             "held-out loss": f"{row['loss']['mean']:.3f} ± {row['loss']['stdev']:.3f}"}
            for row in record["seed_variance"]]


def markdown(record: dict, heading: str = "##") -> str:
    """The "Extrinsic evaluation" section: student, trainer, budget, held-out sets, arms, metric ± interval."""
    train, trained = record["train"], [a for a in record["arms"] if a["budget"]]
    trainer = trained[0]["budget"]["trainer"] if trained else "none (base only)"
    tokens = ", ".join(f"{a['name']} {a['budget']['tokens']}" for a in trained)
    overlap = "; ".join(f"{name}: {info['items']} items, {sum(info['overlap'].values())} candidates dropped as "
                        f"contaminated" for name, info in record["sets"].items())
    lines = [
        f"{heading} Extrinsic evaluation {record['id']}", "",
        f"- student: {record['student']['source']} on {record['student']['device']}; trainer {trainer}, "
        f"LoRA rank {train['lora_rank']}, {train['max_steps']} steps x {train['batch_size']} rows, "
        f"max length {train['max_length']}, lr {train['learning_rate']}, seed {train['seed']} (the same for every arm)",
        f"- tokens trained per arm: {tokens or 'none'}",
        f"- held-out sets (decontaminated against every arm): {overlap}",
        f"- intervals: {record['eval']['confidence']:.0%} bootstrap over items ({record['eval']['resamples']} "
        "resamples); a difference whose interval holds zero is not a win", "",
        *_markdown_table(table(record)), "",
    ]
    if record["differences"]:
        lines += ["Paired differences (arm - against; loss: lower is better):", "",
                  *_markdown_table(difference_table(record)), ""]
    if record["seed_variance"]:
        lines += ["Seed variance (mean ± standard deviation over training seeds):", "",
                  *_markdown_table(seed_table(record)), ""]
    return "\n".join(lines)


def _markdown_table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(none)"]
    header = list(rows[0])
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(row[key]) for key in header) + " |" for row in rows)]


def plot(record: dict) -> bytes:
    """Accuracy and held-out loss per arm and set with their intervals, as a PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for axis, metric in zip(axes, METRICS):
        labels = [f"{row['arm']}\n{row['set']}" for row in record["scores"]]
        means = [row[metric]["mean"] for row in record["scores"]]
        errors = [[m - row[metric]["low"] for m, row in zip(means, record["scores"])],
                  [row[metric]["high"] - m for m, row in zip(means, record["scores"])]]
        axis.bar(range(len(means)), means, yerr=errors, capsize=4, color="#4c72b0")
        axis.set_xticks(range(len(means)), labels, fontsize=8)
        axis.set_title("accuracy (higher is better)" if METRICS[metric] else "held-out loss (lower is better)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def comparison(record: dict, candidate: str, current: str) -> list[dict]:
    """Per set, the paired differences candidate - current (whichever order the record holds them in)."""
    found = []
    for row in record["differences"]:
        if (row["arm"], row["against"]) == (candidate, current):
            found.append(row)
        elif (row["arm"], row["against"]) == (current, candidate):
            flipped = {"arm": candidate, "against": current, "set": row["set"]}
            for metric, higher in METRICS.items():
                value = row[metric]
                negated = Estimate(-value["mean"], -value["high"], -value["low"], value["n"])
                flipped[metric] = {**negated.to_dict(), "verdict": verdict(negated, higher)}
            found.append(flipped)
    return found
