"""The program that imports a toolset module inside the sandbox: it describes the module's functions, or calls them.

It is shipped as text (`SOURCE`) and run by the sandbox's own interpreter, which has only the standard library: the
module is never imported in the host process, and schemas are built on the host from the plain description printed
here. Input on stdin: a nonce line, then one JSON request; output: one line behind the nonce (so a tool that prints
cannot forge it).
"""

from __future__ import annotations

SOURCE = r'''
import enum, importlib.util, inspect, json, sys, types, typing

NONCE = sys.stdin.readline().strip()
REQUEST = json.loads(sys.stdin.read())
BASIC = {int: "integer", float: "number", str: "string", bool: "boolean", type(None): "null"}


def load():
    spec = importlib.util.spec_from_file_location("toolset", "toolset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def describe_type(tp):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in BASIC:
        return {"t": BASIC[tp]}
    if origin is typing.Annotated:
        found = describe_type(args[0])
        notes = [a for a in args[1:] if isinstance(a, str)]
        return {**found, "description": notes[0]} if notes else found
    if origin is typing.Literal:
        if not all(type(v) in BASIC for v in args):
            raise TypeError("Literal values must be str, int, float, bool or None")
        return {"t": "literal", "values": list(args)}
    if origin in (typing.Union, types.UnionType):
        return {"t": "union", "options": [describe_type(a) for a in args]}
    if tp in (list, tuple, set) or origin in (list, tuple, set, typing.get_origin(typing.Sequence[int])):
        items = [a for a in args if a is not Ellipsis]
        if len(set(map(repr, items))) > 1:
            raise TypeError("tuples must hold one type (tuple[int, ...])")
        return {"t": "array", "items": describe_type(items[0]) if items else {"t": "any"}}
    if tp is dict or origin is dict:
        if args and args[0] is not str:
            raise TypeError("dict keys must be str (JSON object keys)")
        return {"t": "object", "values": describe_type(args[1]) if args else {"t": "any"}}
    if tp is typing.Any:
        return {"t": "any"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"t": "literal", "values": [m.value for m in tp]}
    raise TypeError(f"type {tp!r} has no JSON form (use str, int, float, bool, list, dict, Literal, Enum, Optional)")


def describe(module):
    tools, problems = [], []
    for name, function in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(function) or function.__module__ != module.__name__:
            continue
        where = f"function {name} (line {function.__code__.co_firstlineno})"
        if not inspect.getdoc(function):
            problems.append(f"{where} has no docstring: say what it does, the model reads it")
        try:
            hints = typing.get_type_hints(function, include_extras=True)
        except Exception as error:
            problems.append(f"{where}: its annotations do not resolve ({type(error).__name__}: {error})")
            continue
        params = []
        for param in inspect.signature(function).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                problems.append(f"{where}: *{param.name} cannot be described by a JSON schema; name every parameter")
                continue
            if param.name not in hints:
                problems.append(f"{where}: parameter {param.name!r} has no type annotation")
                continue
            try:
                found = {"name": param.name, "type": describe_type(hints[param.name])}
            except TypeError as error:
                problems.append(f"{where}: parameter {param.name!r}: {error}")
                continue
            if param.default is not param.empty:
                default = param.default.value if isinstance(param.default, enum.Enum) else param.default
                try:
                    json.dumps(default)
                except TypeError:
                    problems.append(f"{where}: the default of {param.name!r} is not JSON")
                    continue
                found["default"] = default
            params.append(found)
        tools.append({"name": name, "doc": inspect.getdoc(function) or "", "params": params})
    if not tools and not problems:
        problems.append("the module defines no public function (names starting with _ are private)")
    return {"tools": tools, "problems": problems}


def call(module, calls):
    results = []
    for item in calls:
        function = getattr(module, item["name"], None)
        if item["name"].startswith("_") or not inspect.isfunction(function):
            results.append({"error": f"no tool named {item['name']!r}"})
            continue
        try:
            value = function(**item["arguments"])
            results.append({"result": json.loads(json.dumps(value, default=str))})
        except Exception as error:
            results.append({"error": f"{type(error).__name__}: {error}"})
    return results


try:
    module = load()
    if REQUEST["mode"] == "names":
        answer = {"names": [n for n, f in vars(module).items() if not n.startswith("_") and inspect.isfunction(f)]}
    elif REQUEST["mode"] == "describe":
        answer = describe(module)
    else:
        answer = {"results": call(module, REQUEST["calls"])}
except BaseException as error:
    answer = {"import_error": f"{type(error).__name__}: {error}"}
print("\n" + NONCE + json.dumps(answer), flush=True)
'''
