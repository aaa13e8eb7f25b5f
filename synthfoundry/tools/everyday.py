"""The shipped default toolset: everyday tools that are deterministic and offline (Apache-2.0, like the project).

Standard library only: toolset modules run in the sandbox's own Python. Every function is typed and documented,
which is all a toolset module needs; the JSON schemas are derived from these signatures and docstrings.
"""

import ast
import datetime
import operator
from typing import Literal

_LENGTH = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344}
_MASS = {"g": 0.001, "kg": 1.0, "lb": 0.45359237, "oz": 0.028349523125, "t": 1000.0}
_VOLUME = {"ml": 0.001, "l": 1.0, "cup": 0.2365882365, "gal": 3.785411784, "floz": 0.0295735295625}
Unit = Literal["mm", "cm", "m", "km", "in", "ft", "yd", "mi", "g", "kg", "lb", "oz", "t", "ml", "l", "cup", "gal",
               "floz", "C", "F", "K"]


def convert_units(value: float, from_unit: Unit, to_unit: Unit) -> float:
    """Convert a quantity between units of length, mass, volume or temperature.

    Args:
        value: the quantity to convert.
        from_unit: the unit of `value`.
        to_unit: the unit to convert to (of the same kind: length, mass, volume or temperature).
    """
    temperature = ("C", "F", "K")
    if from_unit in temperature and to_unit in temperature:
        celsius = {"C": value, "F": (value - 32) * 5 / 9, "K": value - 273.15}[from_unit]
        return round({"C": celsius, "F": celsius * 9 / 5 + 32, "K": celsius + 273.15}[to_unit], 6)
    for table in (_LENGTH, _MASS, _VOLUME):
        if from_unit in table and to_unit in table:
            return round(value * table[from_unit] / table[to_unit], 6)
    raise ValueError(f"cannot convert {from_unit} to {to_unit}: they measure different things")


def add_days(date: str, days: int) -> str:
    """The date a number of days after (or, when negative, before) a date.

    Args:
        date: the start date, as YYYY-MM-DD.
        days: how many days to add; negative to go back.
    """
    return (datetime.date.fromisoformat(date) + datetime.timedelta(days=days)).isoformat()


def days_between(start: str, end: str) -> int:
    """The number of days from one date to another (negative when `end` is earlier).

    Args:
        start: the first date, as YYYY-MM-DD.
        end: the second date, as YYYY-MM-DD.
    """
    return (datetime.date.fromisoformat(end) - datetime.date.fromisoformat(start)).days


def day_of_week(date: str) -> str:
    """The day of the week a date falls on, e.g. Monday.

    Args:
        date: the date, as YYYY-MM-DD.
    """
    return datetime.date.fromisoformat(date).strftime("%A")


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.Pow: operator.pow, ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv, ast.USub: operator.neg,
              ast.UAdd: operator.pos}


def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression with + - * / // % ** and parentheses, e.g. (12.5 * 4) / 3.

    Args:
        expression: the expression, numbers and operators only.
    """

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 100:
                raise ValueError("exponent too large")
            return _OPERATORS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.operand))
        raise ValueError(f"not an arithmetic expression: {expression!r}")

    return round(float(value(ast.parse(expression, mode="eval").body)), 10)


_CATALOGUE = [
    {"id": "P100", "name": "Trail running shoes", "category": "sports", "price": 89.0, "stock": 14},
    {"id": "P101", "name": "Yoga mat", "category": "sports", "price": 25.5, "stock": 40},
    {"id": "P102", "name": "Steel water bottle", "category": "sports", "price": 18.0, "stock": 0},
    {"id": "P200", "name": "Noise-cancelling headphones", "category": "electronics", "price": 199.0, "stock": 7},
    {"id": "P201", "name": "USB-C charger 65 W", "category": "electronics", "price": 39.9, "stock": 25},
    {"id": "P202", "name": "E-reader", "category": "electronics", "price": 129.0, "stock": 3},
    {"id": "P300", "name": "Cast iron skillet", "category": "kitchen", "price": 45.0, "stock": 12},
    {"id": "P301", "name": "Chef's knife", "category": "kitchen", "price": 60.0, "stock": 9},
    {"id": "P302", "name": "Pour-over coffee set", "category": "kitchen", "price": 34.0, "stock": 0},
    {"id": "P400", "name": "Paperback: A Short History of Maps", "category": "books", "price": 14.5, "stock": 21},
    {"id": "P401", "name": "Hardcover: Field Guide to Birds", "category": "books", "price": 32.0, "stock": 5},
]
Category = Literal["sports", "electronics", "kitchen", "books"]


def search_catalogue(query: str, category: Category | None = None, max_price: float | None = None,
                     in_stock_only: bool = False) -> list[dict]:
    """Search the shop's catalogue by words of the product name; returns matching products, cheapest first.

    Args:
        query: words to look for in product names (any of them may match).
        category: only products of this category.
        max_price: only products costing at most this much, in euros.
        in_stock_only: leave out products that are out of stock.
    """
    words = [w for w in query.lower().split() if w]
    found = [p for p in _CATALOGUE
             if any(w in p["name"].lower() for w in words)
             and (category is None or p["category"] == category)
             and (max_price is None or p["price"] <= max_price)
             and (not in_stock_only or p["stock"] > 0)]
    return sorted(found, key=lambda p: p["price"])


def get_product(product_id: str) -> dict:
    """Everything the catalogue knows about one product: name, category, price in euros and stock.

    Args:
        product_id: the product's id, e.g. P100.
    """
    for product in _CATALOGUE:
        if product["id"] == product_id.upper():
            return product
    raise KeyError(f"no product with id {product_id!r}")


_COUNTRIES = {
    "france": {"capital": "Paris", "population": 68_170_000, "currency": "EUR", "calling_code": "+33"},
    "japan": {"capital": "Tokyo", "population": 124_500_000, "currency": "JPY", "calling_code": "+81"},
    "brazil": {"capital": "Brasília", "population": 203_100_000, "currency": "BRL", "calling_code": "+55"},
    "kenya": {"capital": "Nairobi", "population": 52_400_000, "currency": "KES", "calling_code": "+254"},
    "canada": {"capital": "Ottawa", "population": 40_100_000, "currency": "CAD", "calling_code": "+1"},
    "india": {"capital": "New Delhi", "population": 1_428_600_000, "currency": "INR", "calling_code": "+91"},
    "germany": {"capital": "Berlin", "population": 84_500_000, "currency": "EUR", "calling_code": "+49"},
    "australia": {"capital": "Canberra", "population": 26_600_000, "currency": "AUD", "calling_code": "+61"},
}


def country_facts(country: str, field: Literal["capital", "population", "currency", "calling_code"]) -> str | int:
    """One fact about a country from a fixed table (France, Japan, Brazil, Kenya, Canada, India, Germany, Australia).

    Args:
        country: the country's English name.
        field: which fact: capital, population, currency (ISO code) or calling_code.
    """
    facts = _COUNTRIES.get(country.strip().lower())
    if facts is None:
        raise KeyError(f"{country!r} is not in the table (known: {', '.join(c.title() for c in _COUNTRIES)})")
    return facts[field]
