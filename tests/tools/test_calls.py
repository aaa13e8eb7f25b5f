from synthfoundry.tools import Call, Tool
from synthfoundry.tools.calls import parse_call, possible_answer, schema_problem

TOOL = Tool("book", "Book a table.", {
    "type": "object", "required": ["people"],
    "properties": {"people": {"type": "integer", "minimum": 1, "maximum": 12},
                   "area": {"enum": ["inside", "terrace"], "default": "inside"}, "note": {"type": "string"}},
    "additionalProperties": False})
TOOLS = {"book": TOOL}


def test_format_the_arguments_must_be_a_json_object():
    assert parse_call({"name": "book", "arguments": '{"people": 2}'}) == Call("book", {"people": 2})
    assert parse_call({"name": "book", "arguments": ""}) == Call("book", {})
    assert parse_call({"name": "book", "arguments": '{"people": 2'}).startswith("format: book: the arguments are not JSON")
    assert parse_call({"name": "book", "arguments": "[2]"}) == "format: book: the arguments are a JSON list, not an object"


def test_schema_names_function_argument_and_rule():
    assert schema_problem(Call("book", {"people": 4, "area": "terrace"}), TOOLS) is None
    problems = {
        "unknown": schema_problem(Call("order", {}), TOOLS),
        "required": schema_problem(Call("book", {}), TOOLS),
        "type": schema_problem(Call("book", {"people": "two"}), TOOLS),
        "range": schema_problem(Call("book", {"people": 40}), TOOLS),
        "enum": schema_problem(Call("book", {"people": 2, "area": "roof"}), TOOLS),
        "extra": schema_problem(Call("book", {"people": 2, "pets": True}), TOOLS),
    }
    assert problems["unknown"] == "schema: no tool named 'order' among those offered (book)"
    assert problems["required"] == "schema: book: arguments: 'people' is a required property"
    assert problems["type"] == "schema: book: people: 'two' is not of type 'integer'"
    assert problems["range"] == "schema: book: people: 40 is greater than the maximum of 12"
    assert problems["enum"] == "schema: book: area: 'roof' is not one of ['inside', 'terrace']"
    assert problems["extra"].startswith("schema: book: arguments: Additional properties are not allowed ('pets'")


def test_possible_answer_lets_optional_arguments_be_left_out_or_defaulted():
    assert possible_answer([Call("book", {"people": 2}), Call("book", {"people": 3, "note": "window"})], TOOLS) == [
        {"book": {"people": [2], "area": ["", "inside"], "note": [""]}},
        {"book": {"people": [3], "note": ["window"], "area": ["", "inside"]}},
    ]
