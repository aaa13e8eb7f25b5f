"""Tool-use versions in the trainers' formats: TRL (messages + tools, rendered by a tool-capable chat template),
OpenAI fine-tuning JSONL, and verl prompts whose reward checks the calls."""

import json
import random
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthfoundry.exporters import EXPORTERS, ExportOptions
from synthfoundry.recipes import tool_use
from synthfoundry.records import to_published
from synthfoundry.teachers import make_teacher
from synthfoundry.teachers.base import complete_all
from synthfoundry.teachers.config import TeacherConfig
from tests.exporters.conftest import load, reward_manager_scores
from tests.fakes.provider_server import ProviderServer
from tests.fakes.tool_replies import ScriptedToolTeacher
from tests.helpers import publish_rows

SCRIPTED_TOOLS = str(Path(__file__).parents[1] / "recipes" / "scripted_tools.py")


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    """A published tool-use version made by the recipe with the scripted teacher over loopback HTTP."""
    root = tmp_path_factory.mktemp("tool-use")
    with ProviderServer(reply=ScriptedToolTeacher()) as server:
        teacher = make_teacher(TeacherConfig(provider="openai", model="fake", base_url=server.base_url))
        config = tool_use.Config(rows=24, toolset={"module": SCRIPTED_TOOLS})
        result = tool_use.synthesize(config, lambda r: complete_all(teacher, r).results, random.Random(3), print)
    vectors = np.random.default_rng(0).normal(size=(result.kept.height, 384)).astype(np.float32)
    rows = to_published(result.kept.with_columns(
        pl.lit("run-1").alias("run_id"), pl.lit(None, pl.Datetime("us", "UTC")).alias("created_at"),
        pl.Series("vector", vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=pl.Array(pl.Float32, 384)),
    ))
    published = publish_rows(root, "tools", rows, suite="tool_use")
    from synthfoundry.dataset import DatasetStore

    return DatasetStore(root, "tools").read(published.number), published.manifest()


def test_trl_rows_render_through_a_tool_capable_chat_template(version, tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    rows, manifest = version
    [path] = EXPORTERS["trl"](rows, manifest, tmp_path / "trl", ExportOptions())
    loaded = load("json", path, tmp_path)
    assert loaded.column_names == ["id", "messages", "tools"] and loaded.num_rows == rows.height
    template = (resources.files("trl") / "chat_templates" / "qwen3_training.jinja").read_text()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")))
    called = 0
    for row in loaded:
        tools = json.loads(row["tools"])  # what SFTTrainer does with a JSON-text `tools`
        text = tokenizer.apply_chat_template(row["messages"], tools=tools, chat_template=template, tokenize=False)
        assert "<tools>" in text and all(t["function"]["name"] in text for t in tools)
        for message in row["messages"]:
            for call in message.get("tool_calls") or []:
                assert f'<tool_call>\n{{"name": "{call["function"]["name"]}", "arguments": ' in text
                called += 1
            if message["role"] == "tool":
                assert f"<tool_response>\n{message['content']}\n</tool_response>" in text
    assert called


def test_openai_fine_tuning_lines_carry_tools_and_calls(version, tmp_path):
    rows, manifest = version
    [path] = EXPORTERS["openai"](rows, manifest, tmp_path / "openai", ExportOptions())
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == rows.height
    for line in lines:
        assert set(line) == {"messages", "tools", "parallel_tool_calls"}
        for message in line["messages"]:
            assert None not in message.values() or message.get("tool_calls")  # no null filler keys
            for call in message.get("tool_calls") or []:
                assert isinstance(call["function"]["arguments"], str)  # the fine-tuning API wants JSON text
    assert any(line["parallel_tool_calls"] for line in lines)


def test_verl_prompts_list_the_tools_and_the_reward_checks_the_calls(version, tmp_path):
    rows, manifest = version
    [path] = EXPORTERS["verl"](rows, manifest, tmp_path / "verl", ExportOptions())
    loaded = load("parquet", path, tmp_path)
    assert loaded.num_rows == rows.height
    right, wrong = [], []
    for row, item in zip(rows.iter_rows(named=True), loaded):
        system, user = item["prompt"]
        assert system["role"] == "system" and "<tool_call>" in system["content"] and user["content"] == row["instruction"]
        gold = json.loads(row["answer"])
        calls = [{"name": name, "arguments": {a: v[0] for a, v in args.items() if v[0] != ""}}
                 for call in gold for name, args in call.items()]
        right.append("".join(f"<tool_call>{json.dumps(c)}</tool_call>" for c in calls) or "No tool fits that.")
        wrong.append('lookup(key="nothing at all")' if not calls else "I would rather not call anything.")
    assert reward_manager_scores(path, right) == [1.0] * rows.height
    assert reward_manager_scores(path, wrong) == [0.0] * rows.height
