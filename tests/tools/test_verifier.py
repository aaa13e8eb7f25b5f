"""The `tool_calls` verifier's matching rules, as a table."""

import json

import pytest

from synthfoundry.verify import verify

TOOLS = json.dumps([
    {"type": "function", "function": {"name": "add_days", "parameters": {"type": "object", "properties": {
        "date": {"type": "string"}, "days": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "convert", "parameters": {"type": "object", "properties": {
        "value": {"type": "number"}, "unit": {"type": "string"}, "precise": {"type": "boolean"}}}}},
    {"type": "function", "function": {"name": "book", "parameters": {"type": "object", "properties": {
        "where": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}},
        "nights": {"type": "array", "items": {"type": "integer"}}}}}},
])
ONE = [{"add_days": {"date": ["2026-01-30"], "days": [3]}}]
TWO = [{"convert": {"value": [10], "unit": ["km", "kilometres"], "precise": ["", False]}},
       {"convert": {"value": [2.5], "unit": ["mi"], "precise": [""]}}]
NESTED = [{"book": {"where": {"city": ["New York", "NYC"], "zip": [""]}, "nights": [[1, 2]]}}]


@pytest.mark.parametrize(("response", "answer", "score"), [
    # the response's forms
    ('{"tool_calls": [{"id": "c", "type": "function", "function": {"name": "add_days", '
     '"arguments": "{\\"date\\": \\"2026-01-30\\", \\"days\\": 3}"}}]}', ONE, 1.0),
    ('[{"name": "add_days", "arguments": {"date": "2026-01-30", "days": 3}}]', ONE, 1.0),
    ('<tool_call>{"name": "add_days", "arguments": {"date": "2026-01-30", "days": 3}}</tool_call>', ONE, 1.0),
    ('add_days(date="2026-01-30", days=3)', ONE, 1.0),
    ('```python\n[add_days(date="2026-01-30", days=3)]\n```', ONE, 1.0),
    # numbers by value, types by the schema
    ('add_days(date="2026-01-30", days=3.0)', ONE, 1.0),
    ('add_days(date="2026-01-30", days=3.5)', ONE, 0.0),
    ('add_days(date="2026-01-30", days="3")', ONE, 0.0),
    ('add_days(date="2026-01-30", days=4)', ONE, 0.0),
    # strings normalised (case, spaces, punctuation)
    ('add_days(date="2026 01 30", days=3)', ONE, 1.0),
    # wrong function, missing and extra arguments
    ('add_day(date="2026-01-30", days=3)', ONE, 0.0),
    ('add_days(date="2026-01-30")', ONE, 0.0),
    ('add_days(date="2026-01-30", days=3, note="x")', ONE, 0.0),
    # parallel calls in any order; optional arguments ("") and alternatives
    ('[convert(value=2.5, unit="MI"), convert(value=10, unit="kilometres", precise=False)]', TWO, 1.0),
    ('[convert(value=10, unit="km"), convert(value=2.5, unit="mi")]', TWO, 1.0),
    ('[convert(value=10, unit="km", precise=True), convert(value=2.5, unit="mi")]', TWO, 0.0),
    ('[convert(value=10, unit="km")]', TWO, 0.0),
    ('[convert(value=10, unit="km"), convert(value=10, unit="km")]', TWO, 0.0),
    # object-valued arguments: acceptable values per key; lists element by element
    ('book(where={"city": "nyc"}, nights=[1, 2])', NESTED, 1.0),
    ('book(where={"city": "Boston"}, nights=[1, 2])', NESTED, 0.0),
    ('book(where={"city": "NYC"}, nights=[2, 1])', NESTED, 0.0),
    # irrelevance: no call is right
    ("I cannot help with that using these tools.", [], 1.0),
    ('add_days(date="2026-01-30", days=3)', [], 0.0),
    ("Sure, 2026-02-02.", ONE, 0.0),
])
def test_matching_rules(response, answer, score):
    row = {"answer": json.dumps(answer), "verifier": "tool_calls", "tools": TOOLS}
    assert verify(response, row).score == score


def test_without_schemas_numbers_still_compare_by_value():
    row = {"answer": json.dumps(ONE), "verifier": "tool_calls"}
    assert verify('add_days(date="2026-01-30", days=3.0)', row).score == 1.0


def test_a_bad_ground_truth_is_a_verifier_error():
    from synthfoundry.verify import VerifierError

    with pytest.raises(VerifierError, match="possible|JSON list"):
        verify("f(a=1)", {"answer": '{"f": 1}', "verifier": "tool_calls"})
