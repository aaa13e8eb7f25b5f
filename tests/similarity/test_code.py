from synthfoundry.similarity.code import normalise_code


def test_names_numbers_comments_and_layout_do_not_count():
    first = "def total(prices, tax):\n    # add it up\n    return sum(prices) * (1 + tax)\n"
    second = "```python\ndef   add_all(p,t):  return sum(p)*(2+t)  # done\n```"
    assert normalise_code(first) == normalise_code(second) == \
        "def x lpar x comma x rpar colon return sum lpar x rpar star lpar 0 plus x rpar"
    assert normalise_code("xs.append(item)") == "x dot append lpar x rpar"  # attributes are the API's names


def test_prose_and_docstrings_stay_words():
    prose = "Write a function f(x) that returns x + 1. Don't use loops."
    assert normalise_code(prose) == prose
    assert "Return the sum of the list." in normalise_code('def f(xs):\n    """Return the sum of the list."""\n')
