import json
import sys
from pathlib import Path

import pytest

from synthfoundry.sandbox import Sandbox
from synthfoundry.tools import Call, ToolsetConfig, ToolsetError, open_toolset
from synthfoundry.tools.python_module import parse_docstring

TINY_SERVER = str(Path(__file__).with_name("tiny_mcp_server.py"))


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox()


def test_shipped_toolset_schemas_come_from_signatures_and_docstrings(sandbox):
    with open_toolset(ToolsetConfig(), sandbox) as toolset:
        tools = {tool.name: tool for tool in toolset.tools}
    assert {"convert_units", "add_days", "calculate", "search_catalogue", "country_facts"} <= set(tools)
    search = tools["search_catalogue"].parameters
    assert search["required"] == ["query"]
    assert search["properties"]["max_price"]["default"] is None
    assert {"enum": ["sports", "electronics", "kitchen", "books"], "type": "string"} in search["properties"]["category"]["anyOf"]
    assert search["properties"]["query"]["description"].startswith("words to look for")
    assert tools["add_days"].parameters["properties"]["days"]["type"] == "integer"
    assert tools["add_days"].description.startswith("The date a number of days after")


def test_calls_run_in_the_sandbox_with_results_and_errors(sandbox):
    with open_toolset(ToolsetConfig(), sandbox) as toolset:
        steps = toolset.run([
            [Call("add_days", {"date": "2026-01-30", "days": 3}), Call("get_product", {"product_id": "nope"})],
            [Call("calculate", {"expression": "(12.5 * 4) / 2"})],
            [],
        ])
    assert steps[0][0].output == '"2026-02-02"'
    assert not steps[0][1].ok and "KeyError" in steps[0][1].error
    assert json.loads(steps[1][0].output) == 25.0
    assert steps[2] == []


def test_a_module_runs_only_in_the_sandbox(sandbox, tmp_path):
    module = tmp_path / "spy.py"
    module.write_text('import os\n\ndef where(x: int) -> str:\n    """Where am I."""\n    return os.getcwd()\n')
    with open_toolset(ToolsetConfig(module=module), sandbox) as toolset:
        [[outcome]] = toolset.run([[Call("where", {"x": 1})]])
    assert json.loads(outcome.output) != str(Path.cwd())
    assert "spy" not in sys.modules


@pytest.mark.parametrize(("source", "problem"), [
    ('def f(x):\n    """Doc."""\n    return x\n', "parameter 'x' has no type annotation"),
    ("def f(x: int) -> int:\n    return x\n", "has no docstring"),
    ('def f(*items: int) -> int:\n    """Doc."""\n', "*items cannot be described"),
    ('import numpy_missing_here\n', "ModuleNotFoundError"),
    ('class C: pass\n\ndef f(c: C) -> int:\n    """Doc."""\n', "has no JSON form"),
])
def test_bad_modules_are_refused_with_the_function_named(sandbox, tmp_path, source, problem):
    module = tmp_path / "bad.py"
    module.write_text(source)
    with pytest.raises(ToolsetError, match="bad.py") as error, open_toolset(ToolsetConfig(module=module), sandbox):
        pass
    assert problem in str(error.value)


def test_schema_file_with_its_module(sandbox, tmp_path):
    module = tmp_path / "impl.py"
    module.write_text('def area(width, height):\n    return width * height\n')  # the schemas type it
    schema = {"name": "area", "description": "Area of a rectangle.", "parameters": {
        "type": "object", "properties": {"width": {"type": "number", "minimum": 0}, "height": {"type": "number"}},
        "required": ["width", "height"]}}
    schemas = tmp_path / "tools.json"
    schemas.write_text(json.dumps([{"type": "function", "function": schema}]))
    config = ToolsetConfig(module=module, schemas=schemas)
    with open_toolset(config, sandbox) as toolset:
        assert toolset.tools[0].parameters["properties"]["width"]["minimum"] == 0
        assert toolset.run([[Call("area", {"width": 2, "height": 3})]])[0][0].output == "6"
    schema["parameters"]["properties"]["width"]["type"] = "decimal"
    schemas.write_text(json.dumps([schema]))
    with pytest.raises(ToolsetError, match=r"schema 1 \(area\): invalid JSON Schema at properties/width/type"), \
            open_toolset(config, sandbox):
        pass
    schemas.write_text(json.dumps([{**schema, "name": "volume"}]))
    with pytest.raises(ToolsetError, match="has no function 'volume'"), open_toolset(config, sandbox):
        pass


def test_mcp_server_tools_are_listed_and_called():
    with open_toolset(ToolsetConfig(mcp=["python", TINY_SERVER]), None) as toolset:
        assert [tool.name for tool in toolset.tools] == ["add", "shout"]
        assert toolset.tools[0].parameters["required"] == ["a", "b"]
        steps = toolset.run([[Call("add", {"a": 2, "b": 3}), Call("shout", {"text": ""})], [Call("shout", {"text": "hi"})]])
    assert steps[0][0].output == "5"
    assert not steps[0][1].ok
    assert steps[1][0].output == '"HI"'


def test_an_mcp_server_that_does_not_start_is_a_clear_error(tmp_path):
    with pytest.raises(ToolsetError, match="did not start"), \
            open_toolset(ToolsetConfig(mcp=["python", str(tmp_path / "missing.py")]), None):
        pass


def test_docstring_sections():
    description, arguments = parse_docstring(
        "Do a thing.\n\nMore words.\n\nArgs:\n    x (int): the x.\n        Continued.\n    y: the y.\n\nReturns:\n    z"
    )
    assert description == "Do a thing.\n\nMore words."
    assert arguments == {"x": "the x. Continued.", "y": "the y."}


def test_a_running_mcp_server_by_url():
    import socket
    import subprocess
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, TINY_SERVER, "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as attempt:
                if attempt.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        with open_toolset(ToolsetConfig(mcp=f"http://127.0.0.1:{port}/mcp"), None) as toolset:
            assert [tool.name for tool in toolset.tools] == ["add", "shout"]
            assert toolset.run([[Call("add", {"a": 20, "b": 22})]])[0][0].output == "42"
    finally:
        server.kill()
        server.wait()
    with pytest.raises(ToolsetError, match=f"mcp server at http://127.0.0.1:{port}/mcp did not answer"), \
            open_toolset(ToolsetConfig(mcp=f"http://127.0.0.1:{port}/mcp"), None):
        pass
    with pytest.raises(ValueError, match="neither a command list nor an http"):
        ToolsetConfig(mcp="python server.py")


def test_a_tool_that_hangs_fails_its_step_not_the_run(tmp_path):
    from synthfoundry.sandbox import SandboxConfig

    module = tmp_path / "hang.py"
    module.write_text('def spin(x: int) -> int:\n    """Never returns."""\n    while True:\n        pass\n\n'
                      'def echo(x: int) -> int:\n    """Returns x."""\n    return x\n')
    with open_toolset(ToolsetConfig(module=module), Sandbox(SandboxConfig(timeout_s=1))) as toolset:
        hung, fine = toolset.run([[Call("spin", {"x": 1}), Call("echo", {"x": 2})], [Call("echo", {"x": 3})]])
    assert [o.ok for o in hung] == [False, False] and "timeout" in hung[0].error
    assert fine[0].output == "3"
