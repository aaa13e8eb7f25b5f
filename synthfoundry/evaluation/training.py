"""Train the student on one arm's rows with the TRL trainer its kind needs, LoRA through peft by default.

sft, chat   -> SFTTrainer on prompt/completion conversations (loss on the answer only, as the held-out loss)
preference  -> DPOTrainer on prompt/chosen/rejected (with LoRA the reference is the adapter switched off)
rlvr        -> GRPOTrainer, the reward being the row's own verifier (`synthfoundry.verify.verify`)

Every arm gets the same seed, steps, batch and length caps; the tokens each actually trained on are recorded. The
run folder (in the project's cache, keyed by student, version, rows and settings) keeps the trainer's checkpoints,
so a cancelled run resumes from its last one, and the finished adapter, so an arm trained before is not trained again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from synthfoundry.evaluation.arms import Arm
from synthfoundry.evaluation.config import TrainConfig
from synthfoundry.evaluation.scoring import conversations
from synthfoundry.evaluation.student import Student
from synthfoundry.records import content_id

Progress = Callable[[int, int], None]  # (step, max_steps)
WEIGHTS, BUDGET = "weights", "budget.json"


@dataclass(frozen=True)
class TrainedArm:
    arm: str
    weights: str  # the adapter (or, with lora_rank 0, the whole model) folder
    budget: dict  # steps, batch, caps, tokens trained, resumed-from step


def run_folder(arm: Arm, config: TrainConfig, student: Student, cache: Path) -> Path:
    """One folder per (student, version, its rows, training settings): the same arm of a later evaluation reuses it."""
    key = content_id(student.source, arm.dataset, arm.version, arm.rows["id"].sort().to_list(),
                     config.model_dump(exclude={"checkpoint_every", "repeat_seeds"}))
    return cache / "evaluation" / "runs" / f"{arm.dataset}-v{arm.version}-{key[:16]}"


def train_arm(arm: Arm, config: TrainConfig, student: Student, cache: Path,
              progress: Progress | None = None) -> TrainedArm:
    folder = run_folder(arm, config, student, cache)
    if (folder / BUDGET).exists():
        return TrainedArm(arm.name, str(folder / WEIGHTS), json.loads((folder / BUDGET).read_text()))
    import transformers

    transformers.set_seed(config.seed)  # before the model: LoRA's initial weights are drawn when it is wrapped
    model, tokenizer = student.load()
    trainer = _trainer(arm, config, model, tokenizer, student, folder)
    trainer.remove_callback(transformers.PrinterCallback)  # it prints each log line to stdout (`--json` is one document)
    if progress:
        trainer.add_callback(_progress_callback(progress))
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    resumed = int(checkpoints[-1].name.rsplit("-", 1)[1]) if checkpoints else 0
    trainer.train(resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None)
    trainer.save_model(str(folder / WEIGHTS))
    history = trainer.state.log_history
    budget = {
        "trainer": type(trainer).__name__,
        "steps": trainer.state.global_step,
        "batch_size": config.batch_size,
        "max_length": config.max_length,
        "rows": arm.rows.height,
        "tokens": int(max((entry.get("num_tokens", 0) for entry in history), default=0)),
        "final_loss": next((entry["loss"] for entry in reversed(history) if "loss" in entry), None),
        "resumed_from_step": resumed,
        "lora_rank": config.lora_rank,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
    }
    if arm.kind == "rlvr":  # per step: the verifier's mean reward, and its spread within groups (0: nothing learned)
        budget["rewards"] = [entry[f"rewards/{verifier_reward.__name__}/mean"] for entry in history
                             if f"rewards/{verifier_reward.__name__}/mean" in entry]
        budget["reward_std"] = [entry["reward_std"] for entry in history if "reward_std" in entry]
    (folder / BUDGET).write_text(json.dumps(budget, indent=2))
    for checkpoint in folder.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)
    return TrainedArm(arm.name, str(folder / WEIGHTS), budget)


def load_trained(student: Student, weights: str | None):
    """(model, tokenizer): the untrained student, or with an arm's adapter (or full weights) on it."""
    if weights is None:
        return student.load()
    model, tokenizer = student.load()
    if (Path(weights) / "adapter_config.json").exists():
        from peft import PeftModel

        return PeftModel.from_pretrained(model, weights).to(student.device), tokenizer
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(weights, dtype="float32").to(student.device), tokenizer


def _trainer(arm: Arm, config: TrainConfig, model, tokenizer, student: Student, folder: Path):
    import trl
    from datasets import Dataset

    common = dict(
        output_dir=str(folder), max_steps=config.max_steps, learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size, gradient_accumulation_steps=1, seed=config.seed,
        data_seed=config.seed, logging_steps=1, save_strategy="steps", save_steps=config.checkpoint_every,
        save_total_limit=1, report_to="none", disable_tqdm=True, use_cpu=student.device == "cpu",
        dataloader_num_workers=0,
        gradient_checkpointing=False,  # TRL turns it on; for a small student recomputing activations costs more time
    )
    peft_config = _lora(config)
    pairs = conversations(arm.rows)
    if arm.kind in ("sft", "chat"):
        data = Dataset.from_list([{"prompt": prompt, "completion": [answer]} for prompt, answer in pairs])
        args = trl.SFTConfig(**common, max_length=config.max_length)
        return trl.SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                              peft_config=peft_config)
    if arm.kind == "preference":
        data = Dataset.from_list([
            {"prompt": prompt, "chosen": [answer], "rejected": [{"role": "assistant", "content": rejected}]}
            for (prompt, answer), rejected in zip(pairs, arm.rows["rejected"])
        ])
        args = trl.DPOConfig(**common, max_length=config.max_length, beta=config.beta)
        reference = None if peft_config else student.load()[0]  # full training needs a frozen copy to pull towards
        return trl.DPOTrainer(model=model, ref_model=reference, args=args, train_dataset=data,
                              processing_class=tokenizer, peft_config=peft_config)
    prompts = arm.rows.select("instruction", "answer", "verifier", pl.col("metadata").fill_null("{}"))
    data = Dataset.from_list([{"prompt": prompt, **row} for (prompt, _), row in zip(pairs, prompts.to_dicts())])
    args = trl.GRPOConfig(**common, num_generations=config.num_generations,
                          max_completion_length=config.max_completion_length)
    return trl.GRPOTrainer(model=model, reward_funcs=verifier_reward, args=args, train_dataset=data,
                           processing_class=tokenizer, peft_config=peft_config)


def verifier_reward(completions, answer, verifier, metadata, instruction, **_) -> list[float]:
    """GRPO's reward: each completion scored by its row's own verifier, as the correctness filter scores rows."""
    from synthfoundry.verify import verify

    return [
        verify(completion[-1]["content"], {"answer": a, "verifier": v, "metadata": m, "instruction": q}).score
        for completion, a, v, m, q in zip(completions, answer, verifier, metadata, instruction)
    ]


def _lora(config: TrainConfig):
    if config.lora_rank == 0:
        return None
    from peft import LoraConfig

    return LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, target_modules="all-linear",
                      task_type="CAUSAL_LM", lora_dropout=0.0)


def _progress_callback(report: Progress):
    from transformers import TrainerCallback

    class ReportSteps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            report(state.global_step, state.max_steps)

    return ReportSteps()
