import pytest

from synthfoundry.recipes import procedural
from synthfoundry.teachers.config import TeacherConfig
from tasks.synthesis import synthesize

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_recipe_that_never_asks_never_builds_the_teacher(tmp_path):
    unbuildable = TeacherConfig(provider="local", model_path=tmp_path / "missing.gguf")  # building it raises
    result = synthesize(procedural.Config(datasets={"basic_arithmetic": 3}), unbuildable, seed=5, dataset="tasks")
    assert result.counts == {"in": 3, "kept": 3, "dropped": 0}
